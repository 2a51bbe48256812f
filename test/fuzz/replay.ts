import { startScramClient } from '#auth';
import type net from 'node:net';
import {
  connectRaw,
  connectTls,
  errorFields,
  int32,
  message,
  MessageStream,
  scramLogin,
  startupMessage,
  type BackendMessage,
} from '../support/raw-client';
import { mutate, splitWrites, type CancelKey, type Flood, type ReplayableCase } from './cases';
import type { Frame } from './mutations';
import { Prng } from './prng';

export interface FuzzTarget {
  readonly port: number;
  readonly password: string;
  /** How long a connection may neither answer nor close (auth timeout plus a margin). */
  readonly hangBudgetMs: number;
  /** The gateway's CA, for cases over TLS. */
  readonly ca: string;
}

/**
 * How a case went, from the client's side. `hang`: the connection was still
 * open after the budget. `login-failed`: the real login before a relay case
 * did not succeed. `bad-error`: an ErrorResponse without a well-formed
 * SQLSTATE, severity or message. `refused`: the gateway did not accept.
 * `unbounded`: the gateway read the whole body of an oversized message
 * instead of refusing it from its header.
 */
export type CaseVerdict =
  'closed' | 'destroyed' | 'hang' | 'login-failed' | 'bad-error' | 'refused' | 'unbounded';

export interface CaseOutcome {
  readonly verdict: CaseVerdict;
  readonly detail: string;
  /** SQLSTATEs of the ErrorResponses received, in order. */
  readonly sqlstates: readonly string[];
  /** The fuzz connection's local port, to find the gateway's side of it. */
  readonly clientPort?: number;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const pause = () => new Promise((resolve) => setTimeout(resolve, 1));

/** An ErrorResponse fault, or null when it is well-formed. */
function malformedError(msg: BackendMessage): string | null {
  const fields = errorFields(msg.body);
  if (!fields.C || !SQLSTATE.test(fields.C)) return `SQLSTATE ${JSON.stringify(fields.C)}`;
  if (!fields.S || !fields.M) return `missing severity or message: ${JSON.stringify(fields)}`;
  return null;
}

/** Replays one case on a fresh connection and judges it. Never throws. */
export async function replayCase(
  target: FuzzTarget,
  fuzzCase: ReplayableCase,
): Promise<CaseOutcome> {
  let socket: net.Socket;
  try {
    socket = fuzzCase.tls
      ? await connectTls(target.port, target.ca)
      : await connectRaw(target.port);
  } catch (err) {
    return { verdict: 'refused', detail: String(err), sqlstates: [] };
  }
  socket.setNoDelay(true);
  const clientPort = socket.localPort;
  try {
    return { ...(await drive(socket, target, fuzzCase)), clientPort };
  } finally {
    socket.destroy();
  }
}

async function drive(
  socket: net.Socket,
  target: FuzzTarget,
  fuzzCase: ReplayableCase,
): Promise<CaseOutcome> {
  const session =
    fuzzCase.phase === 'login-final'
      ? await liveLoginWithMutatedFinal(socket, target, fuzzCase)
      : await openSession(socket, target, fuzzCase);
  if ('verdict' in session) return session;
  const { stream, backendKey } = session;
  const writes = session.writes ?? fuzzCase.writes;
  const cancelClosed = await writeCase(socket, stream, target, { ...fuzzCase, writes }, backendKey);
  if (!cancelClosed) {
    return {
      verdict: 'hang',
      detail: `the CancelRequest connection was still open ${target.hangBudgetMs} ms later`,
      sqlstates: [],
    };
  }
  if (fuzzCase.flood && !stream.closed) {
    if (await flood(socket, stream, fuzzCase.flood, target.hangBudgetMs)) {
      const { type, bodyBytes } = fuzzCase.flood;
      return {
        verdict: 'unbounded',
        detail: `${fuzzCase.phase}: a message 0x${type.toString(16)} of ${bodyBytes} bytes was read whole`,
        sqlstates: [],
      };
    }
  }
  if (fuzzCase.ending === 'destroy') {
    socket.destroy();
    return { verdict: 'destroyed', detail: '', sqlstates: [] };
  }
  if (fuzzCase.ending === 'end' && !socket.destroyed) socket.end();
  return awaitClose(stream, target.hangBudgetMs, fuzzCase.rawAnswers);
}

interface OpenedSession {
  readonly stream: MessageStream;
  /** BackendKeyData of a real login, for CancelRequests. */
  readonly backendKey: Buffer | null;
  /** Writes known only once logged in (login-final), replacing the case's. */
  readonly writes?: readonly Buffer[];
}

/** Pre-auth: the bare connection. Relay: after a real SCRAM login with the recorded parameters. */
async function openSession(
  socket: net.Socket,
  target: FuzzTarget,
  fuzzCase: ReplayableCase,
): Promise<OpenedSession | CaseOutcome> {
  if (fuzzCase.phase === 'pre-auth') return { stream: new MessageStream(socket), backendKey: null };
  const login = await scramLogin(socket, { ...fuzzCase.loginParams }, target.password).catch(
    (err: unknown) => ({ messages: [], stream: null, err }),
  );
  const last = login.messages.at(-1);
  if (!login.stream || last?.type !== 'Z') {
    const detail =
      last?.type === 'E'
        ? JSON.stringify(errorFields(last.body))
        : String('err' in login ? login.err : 'closed');
    return { verdict: 'login-failed', detail, sqlstates: [] };
  }
  const key = login.messages.find((m) => m.type === 'K')?.body ?? null;
  return { stream: login.stream, backendKey: key };
}

/**
 * login-final: startup and SCRAM client-first done right, then the real
 * client-final and the pipelined session messages, mutated and split with
 * the case's mutation seed, become the case's writes.
 */
async function liveLoginWithMutatedFinal(
  socket: net.Socket,
  target: FuzzTarget,
  fuzzCase: ReplayableCase,
): Promise<OpenedSession | CaseOutcome> {
  const stream = new MessageStream(socket);
  const refused = (at: string, msg: BackendMessage | null): CaseOutcome => ({
    verdict: 'login-failed',
    detail: `${at}: ${describe(msg ?? undefined)}`,
    sqlstates: [],
  });
  socket.write(startupMessage({ ...fuzzCase.loginParams }));
  const sasl = await stream.next().catch(() => null);
  if (sasl?.type !== 'R' || sasl.body.readInt32BE(0) !== 10) return refused('startup', sasl);
  const scram = startScramClient({ password: target.password, channelBinding: null });
  const first = Buffer.from(scram.clientFirst);
  socket.write(
    message('p', Buffer.concat([Buffer.from(`${scram.mechanism}\0`), int32(first.length), first])),
  );
  const serverFirst = await stream.next().catch(() => null);
  if (serverFirst?.type !== 'R' || serverFirst.body.readInt32BE(0) !== 11) {
    return refused('client-first', serverFirst);
  }
  const final = scram.receiveServerFirst(serverFirst.body.subarray(4).toString());
  const plan = fuzzCase.finalMutation!;
  const frames: Frame[] = [message('p', final.clientFinal), ...plan.pipelined].map((bytes) => ({
    typed: true,
    bytes,
  }));
  const rng = new Prng(plan.seed);
  mutate(frames, rng, plan.pool);
  const writes = splitWrites(Buffer.concat(frames.map((frame) => frame.bytes)), rng);
  return { stream, backendKey: null, writes };
}

/**
 * The case's writes, each its own TCP segment, with its CancelRequest in
 * between; resolves with whether the cancel connection (if any) was closed.
 */
async function writeCase(
  socket: net.Socket,
  stream: MessageStream,
  target: FuzzTarget,
  fuzzCase: ReplayableCase,
  backendKey: Buffer | null,
): Promise<boolean> {
  const cancels: Array<Promise<boolean>> = [];
  const cancelAfter = (n: number) => {
    if (fuzzCase.cancel?.afterWrite === n && backendKey) {
      cancels.push(cancelRequest(target, backendKey, fuzzCase.cancel.key));
    }
  };
  cancelAfter(-1);
  for (const [n, write] of fuzzCase.writes.entries()) {
    if (stream.closed || socket.destroyed) break;
    socket.write(write);
    await pause();
    cancelAfter(n);
  }
  return (await Promise.all(cancels)).every(Boolean);
}

/**
 * Reads answers until the gateway closes; a connection still open after
 * the budget is a hang. Checks every ErrorResponse on the way.
 */
async function awaitClose(
  stream: MessageStream,
  budgetMs: number,
  rawAnswers: boolean,
): Promise<CaseOutcome> {
  const deadline = Date.now() + budgetMs;
  const sqlstates: string[] = [];
  let malformed: string | null = null;
  for (;;) {
    let msg: BackendMessage | null;
    try {
      msg = await stream.next(Math.max(0, deadline - Date.now()));
    } catch {
      const detail = `still open ${budgetMs} ms after the last write (${stream.received} bytes received)`;
      return { verdict: 'hang', detail, sqlstates };
    }
    if (!msg) break;
    if (msg.type === 'E' && !rawAnswers) {
      sqlstates.push(errorFields(msg.body).C ?? '?');
      malformed ??= malformedError(msg);
    }
  }
  if (malformed) return { verdict: 'bad-error', detail: malformed, sqlstates };
  return { verdict: 'closed', detail: '', sqlstates };
}

/**
 * A CancelRequest on its own connection; resolves with whether the gateway
 * closed that connection within the budget (it answers nothing).
 */
async function cancelRequest(
  target: FuzzTarget,
  key: Buffer,
  variant: CancelKey,
): Promise<boolean> {
  const pid = key.subarray(0, 4);
  let secret = Buffer.from(key.subarray(4));
  if (variant === 'changed') secret[0] ^= 0x01;
  if (variant === 'short') secret = secret.subarray(0, 2);
  if (variant === 'long') secret = Buffer.alloc(300, 7);
  const packet = Buffer.concat([int32(12 + secret.length), int32(80877102), pid, secret]);
  let socket: net.Socket | undefined;
  try {
    socket = await connectRaw(target.port);
    const stream = new MessageStream(socket);
    socket.write(packet);
    await stream.untilClosed(target.hangBudgetMs);
    return true;
  } catch {
    return socket === undefined; // refused: not a hang (the process check reports it)
  } finally {
    socket?.destroy();
  }
}

const FLOOD_CHUNK = Buffer.alloc(256 * 1024, 0x61);

/**
 * Sends the header of an oversized message, then its body as fast as the
 * gateway reads it. True when the whole body went out with the connection
 * still open: the gateway buffered what it should have refused.
 */
async function flood(
  socket: net.Socket,
  stream: MessageStream,
  { type, bodyBytes }: Flood,
  budgetMs: number,
): Promise<boolean> {
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeInt32BE(bodyBytes + 4, 1);
  socket.write(header);
  let sent = 0;
  while (sent < bodyBytes) {
    if (stream.closed || socket.destroyed) return false;
    const piece = FLOOD_CHUNK.subarray(0, Math.min(FLOOD_CHUNK.length, bodyBytes - sent));
    sent += piece.length;
    if (!socket.write(piece)) {
      // Either the gateway reads on, or it closes (as it should), or the auth timeout does.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, budgetMs);
        function done() {
          clearTimeout(timer);
          socket.off('drain', done).off('close', done);
          resolve();
        }
        socket.once('drain', done).once('close', done);
      });
    }
  }
  return !stream.closed && !socket.destroyed;
}

/**
 * What a fresh session sees of the state an earlier client could have left
 * on a pooled upstream connection (DISCARD ALL must have reset all of it).
 */
const SESSION_STATE_QUERY = `SELECT 1 AS one, current_user, session_user,
  current_setting('search_path'), current_setting('application_name'),
  current_setting('extra_float_digits'), current_setting('DateStyle'),
  current_setting('TimeZone'), current_setting('default_transaction_read_only'),
  (SELECT count(*) FROM pg_prepared_statements) AS prepared,
  (SELECT count(*) FROM pg_cursors) AS cursors,
  (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()) AS temp_relations,
  (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
  (SELECT count(*) FROM pg_listening_channels()) AS listening`;

export interface Health {
  /** What went wrong, or null. */
  readonly problem: string | null;
  /** The session state a fresh login found (compare with the first check's). */
  readonly sessionState: string;
}

/**
 * A fresh legitimate login and `select 1` (with the session state a pooled
 * connection could leak): what must keep working whatever the fuzz
 * connections did.
 */
export async function healthCheck(port: number, password: string): Promise<Health> {
  let socket: net.Socket | undefined;
  const unhealthy = (problem: string): Health => ({ problem, sessionState: '' });
  try {
    socket = await connectRaw(port);
    const { messages, stream } = await scramLogin(
      socket,
      { user: 'admin', database: 'admin/main' },
      password,
    );
    const ready = messages.at(-1);
    if (ready?.type !== 'Z') return unhealthy(`login: ${describe(ready)}`);
    if (ready.body.toString() !== 'I')
      return unhealthy(`login ready in state ${ready.body.toString()}`);
    socket.write(message('Q', `${SESSION_STATE_QUERY}\0`));
    const answers: BackendMessage[] = [];
    for (;;) {
      const msg = await stream.next(15_000);
      if (!msg) return unhealthy(`closed after ${answers.map((a) => a.type).join('')}`);
      answers.push(msg);
      if (msg.type === 'Z') break;
    }
    const row = answers.find((a) => a.type === 'D');
    const values = row ? dataRowValues(row.body) : [];
    if (values[0] !== '1')
      return unhealthy(`select 1 answered ${answers.map(describe).join(', ')}`);
    socket.end(message('X', ''));
    return { problem: null, sessionState: JSON.stringify(values.slice(1)) };
  } catch (err) {
    return unhealthy(String(err));
  } finally {
    socket?.destroy();
  }
}

function dataRowValues(body: Buffer): Array<string | null> {
  const values: Array<string | null> = [];
  let offset = 2;
  for (let n = body.readInt16BE(0); n > 0; n--) {
    const length = body.readInt32BE(offset);
    offset += 4;
    values.push(length < 0 ? null : body.toString('utf8', offset, offset + length));
    offset += Math.max(0, length);
  }
  return values;
}

function describe(msg: BackendMessage | undefined): string {
  if (!msg) return 'nothing';
  return msg.type === 'E' ? `E ${JSON.stringify(errorFields(msg.body))}` : msg.type;
}
