import net from 'node:net';
import tls from 'node:tls';
import { startScramClient } from '#auth';

/**
 * A PostgreSQL client written byte by byte, for the cases real drivers
 * never produce (the probes of docs/security.md). Independent of the gateway's codec.
 */
export const SSL_REQUEST = Buffer.from('0000000804d2162f', 'hex');
export const GSSENC_REQUEST = Buffer.from('0000000804d21630', 'hex');

export function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

export function startupMessage(params: Record<string, string>, version = 0x00030000): Buffer {
  const body = Buffer.concat([
    int32(version),
    ...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)),
    Buffer.from([0]),
  ]);
  return Buffer.concat([int32(body.length + 4), body]);
}

export function message(type: string, body: Buffer | string): Buffer {
  const payload = Buffer.from(body);
  return Buffer.concat([Buffer.from(type), int32(payload.length + 4), payload]);
}

export interface BackendMessage {
  readonly type: string;
  readonly body: Buffer;
}

/** Reads typed backend messages from a socket; `closed` tells whether EOF came. */
export class MessageStream {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  /** Bytes that arrived at all (for "closed without a message" assertions). */
  received = 0;

  constructor(readonly socket: net.Socket | tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    const onClose = () => {
      this.closed = true;
      this.wake();
    };
    socket.on('close', onClose);
    socket.on('end', onClose);
    socket.on('error', onClose);
  }

  /** The next message, or null when the connection closed first. */
  async next(timeoutMs = 15_000): Promise<BackendMessage | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffer.length >= 5) {
        const length = this.buffer.readInt32BE(1);
        if (this.buffer.length >= length + 1) {
          const type = String.fromCharCode(this.buffer[0]!);
          const body = this.buffer.subarray(5, length + 1);
          this.buffer = this.buffer.subarray(length + 1);
          return { type, body };
        }
      }
      if (this.closed) return null;
      if (Date.now() > deadline) throw new Error('no message within the timeout');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** Waits for close; resolves with whatever bytes were left unread. */
  async untilClosed(timeoutMs = 15_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.buffer;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const end = body.indexOf(0, offset + 1);
    fields[String.fromCharCode(body[offset]!)] = body.toString('utf8', offset + 1, end);
    offset = end + 1;
  }
  return fields;
}

/** A CancelRequest packet; `secretKey` may have any length (malformed ones included). */
export function cancelRequest(processId: number, secretKey: Buffer): Buffer {
  return Buffer.concat([
    int32(12 + secretKey.length),
    int32(80877102),
    int32(processId),
    secretKey,
  ]);
}

/** `localAddress` (e.g. 127.0.0.2) makes the connection come from another loopback source. */
export function connectRaw(port: number, localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** SSLRequest, expect 'S', then a TLS handshake trusting `ca`. */
export async function connectTls(
  port: number,
  ca: string,
  localAddress?: string,
): Promise<tls.TLSSocket> {
  const raw = await connectRaw(port, localAddress);
  raw.write(SSL_REQUEST);
  const answer = await new Promise<Buffer>((resolve) => raw.once('data', resolve));
  if (answer.toString() !== 'S') throw new Error(`SSLRequest answered ${answer.toString('hex')}`);
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket: raw, ca, servername: 'localhost' }, () => resolve(secure));
    secure.once('error', reject);
  });
}

/**
 * Runs a SCRAM-SHA-256 login (no channel binding) and returns every message
 * up to ReadyForQuery or the first ErrorResponse. `beforeFinal` may append
 * bytes to the client-final write (PROTO-06b).
 */
export async function scramLogin(
  socket: net.Socket | tls.TLSSocket,
  params: Record<string, string>,
  password: string,
  options: { version?: number } = {},
): Promise<{ messages: BackendMessage[]; stream: MessageStream }> {
  const stream = new MessageStream(socket);
  socket.write(startupMessage(params, options.version));
  const messages: BackendMessage[] = [];
  let scram: ReturnType<typeof startScramClient> | undefined;
  let final: ReturnType<ReturnType<typeof startScramClient>['receiveServerFirst']> | undefined;
  for (;;) {
    const msg = await stream.next();
    if (!msg) return { messages, stream };
    messages.push(msg);
    if (msg.type === 'E' || msg.type === 'Z') return { messages, stream };
    if (msg.type !== 'R') continue;
    const code = msg.body.readInt32BE(0);
    if (code === 10) {
      scram = startScramClient({ password, channelBinding: null });
      const data = Buffer.from(scram.clientFirst);
      socket.write(
        message(
          'p',
          Buffer.concat([Buffer.from(`${scram.mechanism}\0`), int32(data.length), data]),
        ),
      );
    } else if (code === 11 && scram) {
      final = scram.receiveServerFirst(msg.body.subarray(4).toString());
      socket.write(message('p', final.clientFinal));
    } else if (code === 12 && final) {
      final.receiveServerFinal(msg.body.subarray(4).toString());
    }
  }
}
