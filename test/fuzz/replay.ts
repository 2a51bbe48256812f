import type net from 'node:net';
import {
  connectRaw,
  errorFields,
  message,
  MessageStream,
  scramLogin,
  type BackendMessage,
} from '../support/raw-client';
import type { Flood, ReplayableCase } from './cases';

export interface FuzzTarget {
  readonly port: number;
  readonly password: string;
  /** How long a connection may neither answer nor close (auth timeout plus a margin). */
  readonly hangBudgetMs: number;
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
    socket = await connectRaw(target.port);
  } catch (err) {
    return { verdict: 'refused', detail: String(err), sqlstates: [] };
  }
  socket.setNoDelay(true);
  try {
    return await drive(socket, target, fuzzCase);
  } finally {
    socket.destroy();
  }
}

async function drive(
  socket: net.Socket,
  target: FuzzTarget,
  fuzzCase: ReplayableCase,
): Promise<CaseOutcome> {
  let stream: MessageStream;
  if (fuzzCase.phase === 'relay') {
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
    stream = login.stream;
  } else {
    stream = new MessageStream(socket);
  }
  for (const write of fuzzCase.writes) {
    if (stream.closed || socket.destroyed) break;
    socket.write(write);
    await pause();
  }
  if (fuzzCase.flood && !stream.closed) {
    const accepted = await flood(socket, stream, fuzzCase.flood, target.hangBudgetMs);
    if (accepted) {
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
  const deadline = Date.now() + target.hangBudgetMs;
  const sqlstates: string[] = [];
  let malformed: string | null = null;
  for (;;) {
    let msg: BackendMessage | null;
    try {
      msg = await stream.next(Math.max(0, deadline - Date.now()));
    } catch {
      return {
        verdict: 'hang',
        detail: `still open ${target.hangBudgetMs} ms after the last write (${stream.received} bytes received)`,
        sqlstates,
      };
    }
    if (!msg) break;
    if (msg.type === 'E' && !fuzzCase.rawAnswers) {
      sqlstates.push(errorFields(msg.body).C ?? '?');
      malformed ??= malformedError(msg);
    }
  }
  if (malformed) return { verdict: 'bad-error', detail: malformed, sqlstates };
  return { verdict: 'closed', detail: '', sqlstates };
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
 * A fresh legitimate login and `select 1`: what must keep working whatever
 * the fuzz connections did. Resolves with null, or what went wrong.
 */
export async function healthCheck(port: number, password: string): Promise<string | null> {
  let socket: net.Socket | undefined;
  try {
    socket = await connectRaw(port);
    const { messages, stream } = await scramLogin(
      socket,
      { user: 'admin', database: 'admin/main' },
      password,
    );
    if (messages.at(-1)?.type !== 'Z') return `login: ${describe(messages.at(-1))}`;
    socket.write(message('Q', 'select 1\0'));
    const answers: BackendMessage[] = [];
    for (;;) {
      const msg = await stream.next(15_000);
      if (!msg) return `closed after ${answers.map((a) => a.type).join('')}`;
      answers.push(msg);
      if (msg.type === 'Z') break;
    }
    const row = answers.find((a) => a.type === 'D');
    if (!row || row.body.subarray(6).toString() !== '1') {
      return `select 1 answered ${answers.map(describe).join(', ')}`;
    }
    socket.end(message('X', ''));
    return null;
  } catch (err) {
    return String(err);
  } finally {
    socket?.destroy();
  }
}

function describe(msg: BackendMessage | undefined): string {
  if (!msg) return 'nothing';
  return msg.type === 'E' ? `E ${JSON.stringify(errorFields(msg.body))}` : msg.type;
}
