import type { Duplex } from 'node:stream';
import { FrameReader, type TransactionStatus } from '#wire';
import { FramedSocket } from '../net/framed-socket';

/** A backend's key data as PostgreSQL sent it. */
export interface BackendKey {
  readonly processId: number;
  readonly secretKey: Buffer;
}

/**
 * Sends a CancelRequest for `key` (`sendCancelRequest` to the cluster's TCP
 * address); resolves once PostgreSQL took it, never rejects.
 */
export type CancelSender = (key: BackendKey) => Promise<void>;

/**
 * What the upstream backend is doing, as far as the gateway knows:
 * - `idle`: ReadyForQuery `I`, nothing sent that awaits an answer;
 * - `busy`: a statement (Query, Sync, FunctionCall) awaits its ReadyForQuery;
 * - `in-transaction` / `failed`: ReadyForQuery `T` / `E`;
 * - `copy-in` / `copy-out` / `copy-both`: inside a COPY;
 * - `broken`: its state is unknown (closed, cut mid-message, abandoned):
 *   it is closed, never reused.
 */
export type ConnectionState =
  'idle' | 'busy' | 'in-transaction' | 'failed' | 'copy-in' | 'copy-out' | 'copy-both' | 'broken';

const AFTER_READY: Record<TransactionStatus, ConnectionState> = {
  I: 'idle',
  T: 'in-transaction',
  E: 'failed',
};

/**
 * Reads a connection's bytes as they arrive while it holds the connection
 * (a transaction-pooled session, for one transaction at a time).
 */
export interface StreamReader {
  data(chunk: Buffer): void;
  /** The socket ended, closed or failed. */
  gone(): void;
}

const NOTHING_READ_AHEAD = Buffer.alloc(0);

/** Largest frame the gateway reads by default: PostgreSQL's own maximum allocation. */
const DEFAULT_FRAME_CAP = 1 << 30;

/**
 * One authenticated upstream connection for its whole life, whoever uses
 * it (a wire session's relay, an HTTP statement runner, the pool's checks
 * and resets): the socket, one frame reader, the protocol state, its cancel
 * and whether it was ever cancelled, and so whether it may serve another
 * client. As PgBouncer's server socket: users report what they saw
 * (`sent`, `ready`, `copy`), the connection decides about reuse.
 */
export class UpstreamConnection {
  private stateNow: ConnectionState = 'idle';
  private cancelledEver = false;
  /** Someone ends this backend by pid (pg_terminate_backend): it must not pass to another client. */
  private retired = false;
  private cancelInFlight: Promise<void> | null = null;
  private epoch = 0;
  /** Whether the frame reader has the socket now (else a byte relay, a stream reader or nobody). */
  private framing: boolean;
  /** Who reads the socket as a stream now (streamTo), if anyone. */
  private reader: StreamReader | null = null;
  private readerListening = false;

  constructor(
    /** A TCP, TLS or Unix-domain socket, authenticated and idle. */
    readonly socket: Duplex,
    /** The upstream's ParameterStatus values at login. */
    readonly parameters: ReadonlyMap<string, string>,
    /** The backend's own BackendKeyData: the pid is what clients are told, the key never leaves. */
    private readonly backendKey: BackendKey,
    private readonly sendCancel: CancelSender,
    /** The reader the login ran on, kept for the connection's life. */
    private framer: FramedSocket | null = null,
  ) {
    socket.once('close', () => (this.stateNow = 'broken'));
    this.framing = framer !== null;
  }

  /**
   * Counts resets of the backend's session (DISCARD ALL): what a user
   * tracked of the session before (prepared statements, settings) is void
   * once it changed.
   */
  get sessionEpoch(): number {
    return this.epoch;
  }

  /** The backend's session was reset (by the pool). */
  sessionReset(): void {
    this.epoch++;
  }

  /** The upstream backend's process id (`pg_backend_pid()`). */
  get processId(): number {
    return this.backendKey.processId;
  }

  get state(): ConnectionState {
    return this.stateNow;
  }

  /** The transaction status of the last ReadyForQuery (`I` while busy before the first one). */
  get transactionStatus(): TransactionStatus {
    if (this.stateNow === 'in-transaction') return 'T';
    if (this.stateNow === 'failed') return 'E';
    return 'I';
  }

  /** A cancel was ever sent for this backend: a late one could hit a later user's statement. */
  get everCancelled(): boolean {
    return this.cancelledEver;
  }

  /** The cancel on its way to PostgreSQL, if one is: nothing new may reach the backend before it. */
  get pendingCancel(): Promise<void> | null {
    return this.cancelInFlight;
  }

  /**
   * May serve another client (after a reset): idle, never cancelled, open,
   * nothing read ahead. The one place this is decided.
   */
  get reusable(): boolean {
    return (
      this.stateNow === 'idle' &&
      !this.cancelledEver &&
      !this.retired &&
      !this.socket.destroyed &&
      !this.socket.readableEnded &&
      (this.framer?.bufferedLength ?? 0) === 0
    );
  }

  /**
   * Frames read from this connection (one reader for its whole life, paused
   * when nobody reads). `maxMessageLength` caps the frames of the next reads.
   */
  framed(maxMessageLength = DEFAULT_FRAME_CAP): FramedSocket {
    this.framer ??= new FramedSocket(
      this.socket,
      new FrameReader({ maxMessageLength: DEFAULT_FRAME_CAP }),
    );
    this.framer.attach();
    this.framing = true;
    this.framer.maxMessageLength = maxMessageLength;
    return this.framer;
  }

  /**
   * Reads while the connection sits idle in the pool, so that its EOF or
   * anything PostgreSQL says unasked (a FATAL before it closes) shows at
   * once and makes it not `reusable`; the next `framed()` or `takeStream()`
   * pauses it again. At most one chunk is read before the reader pauses.
   */
  watchWhileIdle(): void {
    this.framed().resumeIdle();
  }

  /**
   * Hands the socket to a byte relay: framing stops (the reader keeps its
   * place for later users), and what was read ahead, if anything, is returned.
   */
  takeStream(): Buffer {
    if (!this.framing) return NOTHING_READ_AHEAD;
    this.framing = false;
    return this.framer!.detach();
  }

  /**
   * Lends the socket to `reader` (until `stopStreaming`), flowing, what was
   * read ahead first. The listeners that feed it are the connection's,
   * added once for its life: a transaction-pooled connection changes
   * readers every transaction, and adding and removing listeners each time
   * was a good part of what a transaction cost the gateway. Without a
   * reader they do nothing (the frame reader or a relay reads then).
   */
  streamTo(reader: StreamReader): void {
    const readAhead = this.takeStream();
    if (!this.readerListening) {
      this.readerListening = true;
      const gone = () => this.reader?.gone();
      this.socket.on('data', (chunk: Buffer) => this.reader?.data(chunk));
      this.socket.on('end', gone);
      this.socket.on('close', gone);
      this.socket.on('error', gone);
    }
    this.reader = reader;
    if (readAhead.length > 0) reader.data(readAhead);
    this.socket.resume();
  }

  /** The reader is done: the socket pauses until its next user. */
  stopStreaming(): void {
    this.reader = null;
    this.socket.pause();
  }

  /** A statement went out that will end with ReadyForQuery. */
  sent(): void {
    // Inside a COPY (a pipelined Sync during COPY IN), the COPY state stands until it ends.
    const state = this.stateNow;
    if (state === 'idle' || state === 'in-transaction' || state === 'failed')
      this.stateNow = 'busy';
  }

  /** ReadyForQuery with its status byte (`I`, `T`, `E`). */
  ready(status: TransactionStatus): void {
    if (this.stateNow !== 'broken') this.stateNow = AFTER_READY[status] ?? 'broken';
  }

  /** A CopyInResponse, CopyOutResponse or CopyBothResponse. */
  copy(kind: 'copy-in' | 'copy-out' | 'copy-both'): void {
    if (this.stateNow !== 'broken') this.stateNow = kind;
  }

  /** The client's CopyDone/CopyFail (`copy-in`) or the upstream's CopyDone (`copy-out`): the statement still awaits its ReadyForQuery. */
  copyEnded(kind: 'copy-in' | 'copy-out'): void {
    if (this.stateNow === kind) this.stateNow = 'busy';
  }

  /** Never hand this connection to another client (it is being terminated by pid). */
  retire(): void {
    this.retired = true;
  }

  /** The state is unknown or abandoned: closes the connection (PostgreSQL rolls back on EOF). */
  discard(): void {
    this.stateNow = 'broken';
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /**
   * Sends a CancelRequest for this backend (one at a time: a second call
   * while one is in flight shares it). Resolves once PostgreSQL took it,
   * so that nothing new reaches the backend before it was signalled; marks
   * the connection as never reusable.
   */
  cancel(): Promise<void> {
    this.cancelledEver = true;
    this.cancelInFlight ??= this.sendCancel(this.backendKey)
      .catch(() => undefined)
      .finally(() => (this.cancelInFlight = null));
    return this.cancelInFlight;
  }
}

/**
 * What a session relay needs of its upstream: a real connection, or a
 * transaction-pooled session's (PooledUpstream), which looks like one.
 */
export type RelayUpstream = Pick<
  UpstreamConnection,
  | 'socket'
  | 'state'
  | 'transactionStatus'
  | 'sent'
  | 'ready'
  | 'copy'
  | 'copyEnded'
  | 'cancel'
  | 'discard'
  | 'takeStream'
  | 'processId'
>;
