import tls from 'node:tls';
import {
  FrameReader,
  MAX_AUTH_MESSAGE_LENGTH,
  negotiateProtocolVersion,
  parseStartupPacket,
  PgError,
  PgErrors,
  PROTOCOL_LATEST_MINOR,
  sslResponse,
  SqlState,
} from '#wire';
import { FramedSocket } from '#engine';
import type { Socket } from 'node:net';
import type { TlsMode } from '../../config/config';

/** How the client connected, once the startup packet has been read. */
export interface StartupResult {
  readonly kind: 'startup';
  readonly framed: FramedSocket;
  readonly tls: { readonly socket: tls.TLSSocket } | null;
  readonly params: ReadonlyMap<string, string>;
}

export interface CancelRequest {
  readonly kind: 'cancel';
  readonly processId: number;
  readonly secretKey: Buffer;
}

/** A CancelRequest that cannot be one: closed without a word, as PostgreSQL does. */
export interface MalformedCancel {
  readonly kind: 'malformed-cancel';
  readonly reason: string;
}

/**
 * The client's TLS handshake failed (garbage after 'S', an unknown CA, no common cipher):
 * something the client did, reported in one line below ERROR (HARD-17).
 */
export class TlsHandshakeError extends Error {
  constructor(cause: Error) {
    super(`TLS handshake failed: ${cause.message}`, { cause });
  }
}

/** Direct TLS must negotiate ALPN `postgresql`; the caller closes silently. */
export interface DirectTlsRefused {
  readonly kind: 'direct-tls-without-alpn';
  readonly socket: tls.TLSSocket;
}

const TLS_HANDSHAKE_RECORD = 0x16;
const ALPN_POSTGRESQL = 'postgresql';

export interface StartupOptions {
  readonly tlsMode: TlsMode;
  readonly secureContext: tls.SecureContext | null;
  /**
   * Told the TLS socket as soon as the handshake is done: from then on every answer,
   * errors included, must go through it, never to the raw socket beneath (HARD-10).
   */
  readonly secured: (socket: tls.TLSSocket) => void;
}

/**
 * The first packets of a connection: SSLRequest / GSSENCRequest negotiation,
 * then either a CancelRequest or the StartupMessage. Throws PgError for
 * anything a client must be told about.
 */
export async function negotiateStartup(
  socket: Socket,
  options: StartupOptions,
): Promise<StartupResult | CancelRequest | MalformedCancel | DirectTlsRefused> {
  let framed = new FramedSocket(socket, newReader());
  let secure: tls.TLSSocket | null = null;
  let gssDone = false;
  if ((await framed.peekFirstByte()) === TLS_HANDSHAKE_RECORD && options.secureContext) {
    // Direct TLS (libpq 17 sslnegotiation=direct): the ClientHello goes back
    // to the socket for OpenSSL to read as ciphertext.
    socket.unshift(framed.detach());
    secure = await upgradeToTls(socket, options.secureContext);
    options.secured(secure);
    if (secure.alpnProtocol !== ALPN_POSTGRESQL) {
      // PostgreSQL closes such connections without a message (TLS-05b).
      return { kind: 'direct-tls-without-alpn', socket: secure };
    }
    framed = new FramedSocket(secure, newReader());
  }
  for (;;) {
    const packet = parseStartupPacket(await framed.nextStartupFrame());
    switch (packet.kind) {
      case 'cancel':
      case 'malformed-cancel':
        return packet;
      case 'gssenc':
        if (gssDone || secure) throw unsupportedRepeat();
        refuseReadAhead(framed, 'GSSAPI encryption request');
        gssDone = true;
        framed.write(sslResponse(false));
        continue;
      case 'ssl': {
        if (secure) throw unsupportedRepeat();
        refuseReadAhead(framed, 'SSL request');
        if (!options.secureContext) {
          framed.write(sslResponse(false));
          continue;
        }
        framed.detach();
        socket.write(sslResponse(true));
        secure = await upgradeToTls(socket, options.secureContext);
        options.secured(secure);
        framed = new FramedSocket(secure, newReader());
        continue;
      }
      case 'startup': {
        negotiateMinorVersion(framed, packet.minorVersion, packet.params);
        const user = packet.params.get('user');
        if (!user) {
          throw new PgError(
            SqlState.InvalidAuthorizationSpecification,
            'no PostgreSQL user name specified in startup packet',
          );
        }
        if (!secure && options.tlsMode === 'require') {
          throw PgErrors.tlsRequired(user, packet.params.get('database') ?? user);
        }
        return {
          kind: 'startup',
          framed,
          tls: secure ? { socket: secure } : null,
          params: packet.params,
        };
      }
    }
  }
}

/**
 * CVE-2021-23214: bytes read ahead of an encryption handshake would later
 * be taken as if they had come through it. Clients wait for the answer, so
 * anything already buffered is refused, whatever the answer would be.
 */
function refuseReadAhead(framed: FramedSocket, request: string): void {
  if (framed.bufferedLength > 0) {
    throw PgErrors.protocolViolation(
      `received unencrypted data after ${request}`,
      'This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.',
    );
  }
}

/**
 * The typed messages read through this reader are the authentication messages, so their
 * length is capped at MAX_AUTH_MESSAGE_LENGTH before any body is buffered (HARD-01); the
 * relay frames what follows the login with the session's own limit.
 */
function newReader(): FrameReader {
  return new FrameReader({ maxMessageLength: MAX_AUTH_MESSAGE_LENGTH });
}

/** After TLS (or GSS) was settled, a second request is a protocol error, as in PostgreSQL. */
function unsupportedRepeat(): PgError {
  return PgErrors.unsupportedProtocol(1234, 5679);
}

/**
 * Protocol 3.x above 3.0, and `_pq_.` options, get one
 * NegotiateProtocolVersion before authentication (PROTO-02): libpq 18+ and
 * grease-sending clients rely on it.
 */
function negotiateMinorVersion(
  framed: FramedSocket,
  minorVersion: number,
  params: ReadonlyMap<string, string>,
): void {
  const protocolOptions = [...params.keys()].filter((name) => name.startsWith('_pq_.'));
  if (minorVersion > PROTOCOL_LATEST_MINOR || protocolOptions.length > 0) {
    framed.write(negotiateProtocolVersion(PROTOCOL_LATEST_MINOR, protocolOptions));
  }
}

function upgradeToTls(socket: Socket, secureContext: tls.SecureContext): Promise<tls.TLSSocket> {
  // ALPN: a client offering only other protocols (http/1.1, ...) gets alert
  // 120, defending against cross-protocol (ALPACA) attacks (TLS-05c).
  const secure = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext,
    ALPNProtocols: [ALPN_POSTGRESQL],
  });
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(new TlsHandshakeError(err));
    secure.once('secure', () => {
      secure.off('error', failed);
      resolve(secure);
    });
    secure.once('error', failed);
  });
}
