import net from 'node:net';
import tls from 'node:tls';
import { SaltedPasswordCache, startScramClient } from '#auth';
import {
  BackendType,
  FrameReader,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
} from '#wire';
import { serialize } from 'pg-protocol';
import { sendCancelRequest } from '../net/cancel-request';
import { FramedSocket } from '../net/framed-socket';
import { UpstreamConnection } from './upstream-connection';

/** Where and as whom a session reaches its physical database. */
export interface UpstreamTarget {
  readonly host: string;
  readonly port: number;
  /** A Unix-domain socket to connect to instead of host:port (no TLS over it). */
  readonly socketPath?: string | null;
  readonly ssl: false | { readonly rejectUnauthorized: boolean };
  readonly database: string;
  readonly user: string;
  readonly password: string;
  /**
   * Settings fixed for every session of this role, sent in the startup
   * packet: they outrank role settings a tenant may have planted with
   * ALTER ROLE, and DISCARD ALL resets to them.
   */
  readonly startupParameters?: Readonly<Record<string, string>>;
  /**
   * The settings the role and its database are provisioned with
   * (`name=value`): a new session showing any other role- or database-level
   * setting was planted by a tenant (HARD-04) and is not used.
   */
  readonly provisionedSettings?: readonly string[];
  /**
   * Puts the role's login (password, settings) and its database's settings
   * back; the pool calls it when a new session is refused or shows planted
   * settings, then tries once more.
   */
  readonly repair?: () => Promise<void>;
  /**
   * The pool's size for this target's key (a database's own `poolSize`),
   * bounded by the pool's maxPerKey; absent: maxPerKey.
   */
  readonly poolSize?: number;
  /**
   * When `poolSize` was read (an order, see DatabaseRecord.limitsReadAt): a
   * session logged in before a change must not put the old size back.
   */
  readonly poolSizeReadAt?: number;
  /** What the pool's metrics call it: the database as users name it, and the level its role serves. */
  readonly label?: { readonly database: string; readonly level: 'read-only' | 'read-write' };
}

/** What the login told: the upstream's settings and its backend key. */
interface LoginOutcome {
  readonly parameters: ReadonlyMap<string, string>;
  readonly backendKey: { readonly processId: number; readonly secretKey: Buffer };
}

/**
 * The upstream refused or failed the login. `fields` are the upstream's
 * ErrorResponse fields, for logs only: the client gets a gateway message
 * (an unauthenticated peer's text is never shown, CVE-2024-10977).
 */
export class UpstreamConnectError extends Error {
  constructor(
    message: string,
    readonly sqlstate: string | undefined,
    readonly fields: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

/**
 * One cache per role password: the gateway logs in as the same few roles
 * all the time, and PBKDF2 would otherwise be a third of its CPU per login.
 */
const saltedPasswordCaches = new Map<string, SaltedPasswordCache>();

function saltedPasswordCacheFor(target: UpstreamTarget): SaltedPasswordCache {
  const key = `${target.host}:${target.port}\0${target.user}\0${target.password}`;
  let cache = saltedPasswordCaches.get(key);
  if (!cache) {
    if (saltedPasswordCaches.size >= 10_000) saltedPasswordCaches.clear();
    cache = new SaltedPasswordCache();
    saltedPasswordCaches.set(key, cache);
  }
  return cache;
}

/**
 * Opens and authenticates an upstream connection as `target` (with its
 * fixed startup settings), idle and ready for its first statement.
 */
export async function connectUpstream(
  target: UpstreamTarget,
  timeoutMs: number,
): Promise<UpstreamConnection> {
  const raw = openSocket(target);
  if (!target.socketPath) {
    // As PgBouncer: a Nagle delay would hold back pipelined small writes.
    raw.setNoDelay(true);
    raw.setKeepAlive(true, 30_000);
  }
  // Owners come and go (connect, relay, pool); an error must never go unhandled
  // in between: it is observed through 'close' by whoever holds the socket.
  raw.on('error', () => undefined);
  const timer = setTimeout(
    () => raw.destroy(new Error(`no answer from ${describeTarget(target)} in ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', resolve);
      raw.once('error', reject);
    });
    const socket = target.ssl && !target.socketPath ? await startTls(raw, target) : raw;
    const framed = new FramedSocket(socket, new FrameReader({ maxMessageLength: 1 << 30 }));
    framed.write(
      serialize.startup({
        ...target.startupParameters,
        user: target.user,
        database: target.database,
      }),
    );
    const { parameters, backendKey } = await authenticate(framed, target);
    // Cancels go to the cluster's TCP port, also for a Unix-socket session (pg_hba does not apply).
    const { host, port } = target;
    return new UpstreamConnection(
      socket,
      parameters,
      backendKey,
      (key) => sendCancelRequest({ host, port, ...key }),
      framed,
    );
  } catch (err) {
    raw.destroy();
    if (err instanceof UpstreamConnectError) throw err;
    throw new UpstreamConnectError((err as Error).message, undefined);
  } finally {
    clearTimeout(timer);
  }
}

/** What one read may take: as much as Node reads at once by default. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * The connection's socket. Without TLS to the upstream it reads into one
 * reused buffer (`onread`) and emits a copy of each read as 'data', so its
 * users (framing, the relay, the pool's idle watch) see a socket like any
 * other, minus the Readable stream's per-read work and a 64 KiB allocation
 * per read: about a tenth of a relayed transaction's CPU. A copy, because
 * they keep views of chunks and a write of one may be queued. pause() and
 * resume() still stop and start reading (net.Socket does this for
 * `onread`); nothing is read before the first user pauses it, as
 * PostgreSQL says nothing before the startup message.
 */
function openSocket(target: UpstreamTarget): net.Socket {
  const where = target.socketPath
    ? { path: target.socketPath }
    : { host: target.host, port: target.port };
  if (target.ssl && !target.socketPath) return net.connect(where); // TLS wraps the socket's reads
  const socket: net.Socket = net.connect({
    ...where,
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback: (length: number, buffer: Uint8Array) => {
        socket.emit('data', Buffer.from(buffer.subarray(0, length)));
        return true;
      },
    },
  });
  return socket;
}

function describeTarget(target: UpstreamTarget): string {
  return target.socketPath ?? `${target.host}:${target.port}`;
}

async function startTls(raw: net.Socket, target: UpstreamTarget): Promise<tls.TLSSocket> {
  raw.write(SSL_REQUEST);
  const answer = await new Promise<Buffer>((resolve, reject) => {
    raw.once('data', resolve);
    raw.once('error', reject);
  });
  raw.pause();
  if (answer.length !== 1 || answer[0] !== 0x53 /* S */) {
    // Anything but a lone 'S' is either a refusal or plaintext injected
    // after it (CVE-2021-23222): never read it as if it were encrypted.
    throw new UpstreamConnectError('upstream did not accept TLS', undefined);
  }
  const secure = tls.connect({
    socket: raw,
    servername: net.isIP(target.host) ? undefined : target.host,
    rejectUnauthorized: target.ssl ? target.ssl.rejectUnauthorized : true,
  });
  secure.on('error', () => undefined); // see connectUpstream
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  return secure;
}

async function authenticate(framed: FramedSocket, target: UpstreamTarget): Promise<LoginOutcome> {
  const parameters = new Map<string, string>();
  let backendKey: LoginOutcome['backendKey'] | undefined;
  let scram: ReturnType<typeof startScramClient> | undefined;
  let scramFinal: ReturnType<ReturnType<typeof startScramClient>['receiveServerFirst']> | undefined;
  for (;;) {
    const { type, body } = await framed.nextMessage();
    switch (type) {
      case BackendType.Authentication: {
        const { code, data } = parseAuthentication(body);
        if (code === AUTH_OK) break;
        if (code === AUTH_CLEARTEXT) {
          framed.write(serialize.password(target.password));
        } else if (code === AUTH_SASL) {
          scram = startScramClient({
            password: target.password,
            channelBinding: null,
            saltedPasswordCache: saltedPasswordCacheFor(target),
          });
          framed.write(
            serialize.sendSASLInitialResponseMessage(scram.mechanism, scram.clientFirst),
          );
        } else if (code === AUTH_SASL_CONTINUE && scram && !scramFinal) {
          scramFinal = scram.receiveServerFirst(data.toString('utf8'));
          framed.write(serialize.sendSCRAMClientFinalMessage(scramFinal.clientFinal));
        } else if (code === AUTH_SASL_FINAL && scramFinal) {
          scramFinal.receiveServerFinal(data.toString('utf8'));
        } else {
          throw new UpstreamConnectError(`unsupported upstream authentication ${code}`, undefined);
        }
        break;
      }
      case BackendType.ParameterStatus: {
        const [name, value] = parseParameterStatus(body);
        parameters.set(name, value);
        break;
      }
      case BackendType.BackendKeyData:
        backendKey = parseBackendKeyData(body);
        break;
      case BackendType.NoticeResponse:
        break;
      case BackendType.ErrorResponse: {
        const fields = parseErrorFields(body);
        throw new UpstreamConnectError(
          `upstream refused the session: ${fields.M ?? 'unknown error'}`,
          fields.C,
          fields,
        );
      }
      case BackendType.ReadyForQuery:
        if (!backendKey)
          throw new UpstreamConnectError('upstream sent no BackendKeyData', undefined);
        return { parameters, backendKey };
      default:
        throw new UpstreamConnectError(
          `unexpected upstream message ${String.fromCharCode(type)} during startup`,
          undefined,
        );
    }
  }
}
