import { Duplex } from 'node:stream';
import {
  BackendType as BE,
  closeStatementMessage,
  FrontendType as FE,
  MessageSplitter,
  parseDefinition,
  parseMessage,
  readyForQuery,
  SqlState,
  statementNameOf,
  withStatementName,
  type TransactionStatus,
  type Verdict,
} from '#wire';
import { quoteLiteral } from '../provisioning/sql';
import { parseDataRow } from '../query/result-messages';
import type { TransactionLease } from '../upstream/pool';
import type {
  ConnectionState,
  StreamReader,
  UpstreamConnection,
} from '../upstream/upstream-connection';
import { PendingResponses, type Expected } from './pending-responses';
import {
  ClientStatements,
  ConnectionStatements,
  type ClientStatement,
} from './prepared-statements';
import {
  SESSION_SETTINGS_QUERY,
  sessionSettings,
  settingsChange,
  type SessionSettings,
} from './session-settings';
import { readForTransactionMode } from './transaction-mode-rules';

export interface PooledUpstreamOptions {
  /** A connection of the session's pool (database and role), waiting in turn. */
  /** `signal` aborts when the session ends while it waits (it leaves the pool's queue). */
  readonly acquire: (signal: AbortSignal) => Promise<TransactionLease>;
  /** The client's startup settings. */
  readonly settings: SessionSettings;
  /** Named statements one client may keep. */
  readonly maxClientStatements: number;
  /** Statements kept prepared on one upstream connection (least recently used evicted). */
  readonly maxConnectionStatements: number;
  /** What the client is told in BackendKeyData: no backend's, since it changes every transaction. */
  readonly processId: number;
}

/**
 * What this module knows about the session on one upstream connection,
 * while it sits in the pool; void once the connection was reset.
 */
interface ConnectionSession {
  readonly epoch: number;
  readonly statements: ConnectionStatements;
  settings: SessionSettings;
  /** The definition key of the unnamed statement prepared there, if known. */
  unnamedKey: string | null;
  /** A gateway round trip failed: the connection's state is not what is tracked. */
  suspect: boolean;
}

const connectionSessions = new WeakMap<UpstreamConnection, ConnectionSession>();

const AFTER_READY: Record<TransactionStatus, ConnectionState> = {
  I: 'idle',
  T: 'in-transaction',
  E: 'failed',
};

/** Frames larger than this, in COPY, stream through instead of being assembled. */
const STREAM_COPY_DATA_OVER = 64 * 1024;

/**
 * Transaction pooling for one client session: looks to the relay like one
 * upstream connection (`socket` takes the client's messages and gives the
 * answers), and holds a real one only from a transaction's first message
 * to its end (ReadyForQuery `I` with nothing else in flight), then gives it
 * back to the pool without a reset. Before a transaction runs on a
 * connection, the client's settings are applied where they differ (one
 * round trip, only then); after one that may have changed them, they are
 * read back from PostgreSQL. The client's prepared statements are kept
 * here and prepared on each connection on demand under the connection's
 * own names; what cannot work across connections is refused by PostgreSQL
 * itself, with the gateway's message (a DO block raising it), so that
 * transaction and pipeline states stay exactly PostgreSQL's.
 */
export class PooledUpstream {
  readonly socket: Duplex;
  private lease: TransactionLease | null = null;
  private session: ConnectionSession | null = null;
  private readonly pending = new PendingResponses();
  private readonly statements: ClientStatements;
  private settings: SessionSettings;
  private status: TransactionStatus = 'I';
  private copying: 'copy-in' | 'copy-out' | 'copy-both' | null = null;
  private closed = false;
  /** Set while a statement waits for a connection: aborting it gives up the wait. */
  private waitingForConnection: AbortController | null = null;
  /** A cancel came while the statement waited for a connection: it fails instead of running. */
  private cancelRequested = false;
  /** In this assignment: a statement that may change settings / that used sequences. */
  private settingsMayChange = false;
  private sequencesUsed = false;
  /** Since the last Sync, something went upstream (else a Sync is answered here). */
  private pipelineUpstream = false;
  private releaseDue = false;
  /**
   * The client's unnamed statement is a DEALLOCATE of its own statements,
   * answered here (see answerDeallocation); `bound`: the unnamed portal is it.
   */
  private localDeallocation: { names: ReadonlyArray<string | null>; bound: boolean } | null = null;
  /** Client bytes of a frame not complete yet (concatenated once it is), and what is left of a streamed CopyData. */
  private partial: Buffer[] = [];
  private partialLength = 0;
  private streaming = 0;
  private outbox: Buffer[] = [];
  private readonly fromUpstream: MessageSplitter;
  private readonly upstreamReader: StreamReader = {
    data: (chunk) => this.onUpstreamData(chunk),
    gone: () => this.upstreamGone(),
  };

  constructor(private readonly options: PooledUpstreamOptions) {
    this.settings = sessionSettings(options.settings);
    this.statements = new ClientStatements(options.maxClientStatements);
    this.fromUpstream = new MessageSplitter(
      {
        message: (type, frame) => this.upstreamMessage(type, frame),
        largeMessage: () => (this.pending.headForwarded ? 'forward' : 'drop'),
      },
      { holdUpTo: 64 * 1024, maxLength: () => 0x7fffffff },
    );
    this.socket = new Duplex({
      write: (chunk: Buffer, _encoding, callback) => {
        // Once the session ended, a failure (its wait for a connection given up) concerns nobody.
        const failed = (err: Error) => callback(this.closed ? null : err);
        let waiting: Promise<void> | null;
        try {
          waiting = this.clientBytes(chunk);
        } catch (err) {
          failed(err as Error);
          return;
        }
        if (waiting) waiting.then(() => callback(), failed);
        else callback();
      },
      read: () => this.lease?.connection.socket.resume(),
      final: (callback) => callback(),
      destroy: (err, callback) => {
        this.end(false);
        callback(err);
      },
    });
  }

  get processId(): number {
    return this.options.processId;
  }

  get state(): ConnectionState {
    if (this.closed) return 'broken';
    if (this.copying) return this.copying;
    if (!this.pending.empty) return 'busy';
    return AFTER_READY[this.status];
  }

  get transactionStatus(): TransactionStatus {
    return this.status;
  }

  /** Whether a real connection is held now (for tests and the live-session list). */
  get assigned(): boolean {
    return this.lease !== null;
  }

  // The relay reports what it saw; here the state is read from the answers themselves.
  sent(): void {}
  ready(): void {}
  copy(): void {}
  copyEnded(): void {}
  /**
   * The session is being ended by terminating its backend: the pid of the
   * connection it holds now (never to be handed to anyone else), or null
   * when it holds none.
   */
  retire(): number | null {
    if (!this.lease) return null;
    this.lease.connection.retire();
    return this.lease.connection.processId;
  }

  takeStream(): Buffer {
    return Buffer.alloc(0);
  }

  /**
   * Cancels the statement running for this client, if one runs: never
   * anyone else's. One still waiting for a connection is cancelled when it
   * gets one: PostgreSQL raises 57014 in its place (see `raise`).
   */
  cancel(): Promise<void> {
    if (this.waitingForConnection !== null) this.cancelRequested = true;
    // The connection marks itself as never to be reused (UpstreamConnection.cancel).
    if (!this.lease) return Promise.resolve();
    return this.lease.connection.cancel();
  }

  /** The session ends: a connection held mid-transaction is closed (PostgreSQL rolls back). */
  discard(): void {
    this.end(false);
  }

  /** The session ends between transactions: nothing is held, or what is held goes back. */
  end(idle: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.waitingForConnection?.abort(new Error('session ended'));
    this.giveBack(idle && this.pending.empty && this.status === 'I' && !this.copying);
  }

  // ---- client -> upstream ----

  /**
   * The client's bytes, handled synchronously while a connection is held
   * (a transaction's messages cost no promise each); a promise when a
   * connection must be waited for first, or the upstream is full.
   */
  private clientBytes(chunk: Buffer): Promise<void> | null {
    const data = this.takePartial(chunk);
    return data ? this.clientFrames(data) : null;
  }

  private clientFrames(bytes: Buffer): Promise<void> | null {
    let data = bytes;
    while (data.length > 0 && !this.closed) {
      if (this.streaming > 0) {
        const piece = data.subarray(0, this.streaming);
        this.streaming -= piece.length;
        this.outbox.push(piece);
        data = data.subarray(piece.length);
        continue;
      }
      if (data.length < 5) break;
      const type = data[0]!;
      const total = 1 + data.readInt32BE(1);
      if (type === FE.CopyData && total > STREAM_COPY_DATA_OVER) {
        if (!this.lease) return this.assignThen(data, null);
        this.streaming = total;
        continue;
      }
      if (data.length < total) break;
      const frame = data.subarray(0, total);
      if (!this.answerDeallocation(type, frame) && !this.answerWithoutUpstream(type, frame)) {
        if (!this.lease) return this.assignThen(data, frame);
        this.clientMessage(type, frame);
      }
      data = data.subarray(total);
    }
    if (data.length > 0) this.keepPartial(data);
    return this.flush();
  }

  /**
   * Waits for a connection, then goes on with `data`: its first message
   * `frame` (already found to need one; null: a large CopyData) and the rest.
   */
  private async assignThen(data: Buffer, frame: Buffer | null): Promise<void> {
    await this.assign();
    if (this.closed) return;
    if (frame) this.clientMessage(frame[0]!, frame);
    else this.streaming = 1 + data.readInt32BE(1);
    await this.clientFrames(data.subarray(frame ? frame.length : 0));
  }

  /**
   * `chunk` after what was kept of an incomplete frame, or null while that
   * frame is still incomplete: chunks are concatenated once, not per chunk.
   */
  private takePartial(chunk: Buffer): Buffer | null {
    if (this.partialLength === 0) return chunk;
    this.partial.push(chunk);
    this.partialLength += chunk.length;
    const first = this.partial[0]!;
    // The whole frame once its length is known, else just enough for the header.
    const needed = first.length >= 5 ? 1 + first.readInt32BE(1) : 5;
    if (this.partialLength < needed) return null;
    const data = Buffer.concat(this.partial, this.partialLength);
    this.partial = [];
    this.partialLength = 0;
    return data;
  }

  private keepPartial(data: Buffer): void {
    this.partial = [Buffer.from(data)];
    this.partialLength = data.length;
  }

  /** A message that needs the upstream connection (held now). */
  private clientMessage(type: number, frame: Buffer): void {
    if (this.cancelRequested && (type === FE.Query || type === FE.Execute)) {
      this.cancelRequested = false;
      return this.raise(SqlState.QueryCanceled, 'canceling statement due to user request', type);
    }
    switch (type) {
      case FE.Query:
        return this.query(frame);
      case FE.Parse:
        return this.parse(frame);
      case FE.Bind:
        return this.bindOrDescribe(frame, { kind: 'bind', swallowed: false });
      case FE.Describe:
        return frame[5] === 0x53 /* S */
          ? this.bindOrDescribe(frame, { kind: 'describe-statement', swallowed: false })
          : this.send(frame, { kind: 'describe-portal', swallowed: false });
      case FE.Close:
        return this.send(frame, { kind: 'close', swallowed: false });
      case FE.Execute:
        return this.send(frame, { kind: 'execute', swallowed: false });
      case FE.Sync:
        this.send(frame, { kind: 'until-ready', swallowed: false, sync: true });
        this.pipelineUpstream = false;
        return;
      case FE.FunctionCall:
        return this.send(frame, { kind: 'until-ready', swallowed: false, sync: false });
      default:
        // Flush, CopyData, CopyDone, CopyFail: no answer of their own.
        return this.send(frame, null);
    }
  }

  /**
   * What needs no upstream connection: closing a statement (the client's
   * statements are the gateway's bookkeeping; the connection keeps it
   * prepared for others), and between transactions a Sync after nothing else.
   */
  private answerWithoutUpstream(type: number, frame: Buffer): boolean {
    if (type === FE.Close && frame[5] === 0x53) {
      this.statements.close(statementNameOf(frame)!);
      this.answer(closeComplete());
      return true;
    }
    if (type === FE.Sync && !this.lease && !this.pipelineUpstream && this.pending.empty) {
      this.answer(readyForQuery(this.status));
      return true;
    }
    return false;
  }

  /**
   * `DEALLOCATE name` of the client's own statements (or ALL) as the
   * unnamed statement of the extended protocol: psycopg 3 sends its
   * DEALLOCATE ALL (after a ROLLBACK) and its cache evictions this way
   * (Parse, Bind, Describe portal, Execute, Sync). Upstream it would drop
   * every statement of the connection, other clients' too, behind the
   * gateway's back, or fail on a name the connection does not know; so,
   * as for a Query (deallocateHere), it is answered here, each message in
   * its place among the upstream's answers.
   */
  private answerDeallocation(type: number, frame: Buffer): boolean {
    if (type === FE.Parse && statementNameOf(frame) === '') {
      const reading = readForTransactionMode(queryOf(parseDefinition(frame)), {
        sequencesUsed: this.sequencesUsed,
      });
      const names = reading.deallocates;
      const own = names.every((name) => name === null || this.statements.get(name));
      this.localDeallocation = reading.onlyDeallocations && own ? { names, bound: false } : null;
      if (!this.localDeallocation) return false;
      this.statements.close(''); // replaced, as any unnamed statement
      this.answer(parseComplete());
      return true;
    }
    const local = this.localDeallocation;
    if (!local) return false;
    const unnamedPortal = (at: number) => frame[at] === 0;
    switch (type) {
      case FE.Bind:
        // The unnamed portal of the unnamed statement: this one; anything else is upstream's.
        if (!unnamedPortal(5) || statementNameOf(frame) !== '') return false;
        local.bound = true;
        this.answer(bindComplete());
        return true;
      case FE.Describe:
        if (frame[5] === 0x53 /* S */ && unnamedPortal(6)) {
          this.answer(Buffer.concat([parameterDescriptionNone(), noData()]));
          return true;
        }
        if (!local.bound || !unnamedPortal(6)) return false;
        this.answer(noData());
        return true;
      case FE.Execute: {
        if (!local.bound || !unnamedPortal(5)) return false;
        local.bound = false;
        for (const name of local.names) {
          if (name === null) this.statements.clear();
          else this.statements.close(name);
        }
        const tag = local.names[0] === null ? 'DEALLOCATE ALL' : 'DEALLOCATE';
        this.answer(commandComplete(tag));
        return true;
      }
      default:
        return false;
    }
  }

  private query(frame: Buffer): void {
    const sql = frame.toString('utf8', 5, frame.length - 1);
    const reading = readForTransactionMode(sql, { sequencesUsed: this.sequencesUsed });
    this.sequencesUsed = reading.usesSequences;
    if (reading.refused) {
      this.send(queryMessage(raisingSql(reading.refused)), untilReady());
      return;
    }
    this.settingsMayChange ||= reading.changesSettings;
    if (reading.onlyDeallocations && this.deallocateHere(reading.deallocates)) return;
    if (reading.deallocates.length > 0) {
      // Going upstream, it drops what the connection has prepared (conservatively: all of it),
      // and for DEALLOCATE ALL / DISCARD ALL the client's own statements too.
      this.session!.statements.clear();
      if (reading.deallocates.includes(null)) this.statements.clear();
    }
    this.send(frame, untilReady());
  }

  /**
   * `DEALLOCATE name` of the client's own statements (or ALL) alone in a
   * Query (psycopg does this): answered here, since those statements are
   * the gateway's. Anything else goes upstream.
   */
  private deallocateHere(names: ReadonlyArray<string | null>): boolean {
    if (!names.every((name) => name === null || this.statements.get(name))) return false;
    for (const name of names) {
      if (name === null) this.statements.clear();
      else this.statements.close(name);
    }
    const tag = names[0] === null ? 'DEALLOCATE ALL' : 'DEALLOCATE';
    this.answer(Buffer.concat([commandComplete(tag), readyForQuery(this.status)]));
    return true;
  }

  private parse(frame: Buffer): void {
    const name = statementNameOf(frame)!;
    const definition = parseDefinition(frame);
    // The same unnamed statement again (drivers without named statements
    // send it every time): what was read of it and its key still hold.
    const again = name === '' ? this.statements.get('') : undefined;
    const statement = again?.definition.equals(definition)
      ? again
      : this.defineStatement(name, definition);
    if (!statement) return;
    // Not created after all if PostgreSQL fails or skips the Parse.
    const undo = () => {
      if (this.statements.get(name) === statement) this.statements.close(name);
    };
    if (name === '') {
      const session = this.session!;
      session.unnamedKey = statement.key;
      // Named '' here and upstream: the client's own Parse goes as it is.
      return this.send(frame, {
        kind: 'parse',
        swallowed: false,
        undo: () => {
          undo();
          session.unnamedKey = null;
        },
      });
    }
    this.prepare(statement, undo);
  }

  /**
   * The client's statement `name`, defined with its effects read from its
   * SQL; null when it cannot be (the error is raised in its place).
   */
  private defineStatement(name: string, definition: Buffer): ClientStatement | null {
    const sql = queryOf(definition);
    // What is refused whatever ran before it fails as the Parse itself, as
    // a syntax error would (a stand-in statement would meet the client's
    // Bind with parameters it does not take: 08P01 instead of the reason).
    const always = readForTransactionMode(sql, { sequencesUsed: true });
    if (always.refused) {
      if (name === '') this.statements.close(''); // PostgreSQL drops it before parsing
      this.raise('0A000', always.refused);
      return null;
    }
    // The rest depends on the transaction that executes it (see bindOrDescribe).
    const alone = readForTransactionMode(sql, { sequencesUsed: false });
    const effects = {
      changesSettings: always.changesSettings,
      usesSequences: alone.usesSequences,
      readsSequencesFirst: alone.refused,
      dropsStatements: always.deallocates.length > 0,
    };
    const outcome = this.statements.define(name, definition, effects);
    if (outcome === 'exists') {
      this.raise('42P05', `prepared statement "${name}" already exists`);
      return null;
    }
    if (outcome === 'too-many') {
      this.raise(
        '54000',
        `too many prepared statements in this session (at most ${this.options.maxClientStatements}); close some first`,
      );
      return null;
    }
    return this.statements.get(name)!;
  }

  /** Bind or Describe of a statement: prepared on this connection first if it is not, renamed to its name here. */
  private bindOrDescribe(frame: Buffer, expected: Expected): void {
    const name = statementNameOf(frame)!;
    const statement = this.statements.get(name);
    if (!statement) {
      return this.raise(
        '26000',
        name === ''
          ? 'unnamed prepared statement does not exist'
          : `prepared statement "${name}" does not exist`,
      );
    }
    if (expected.kind === 'bind') {
      // Executed in this transaction: its effects are judged in it.
      const { effects } = statement;
      if (effects.readsSequencesFirst && !this.sequencesUsed) {
        return this.raise('0A000', effects.readsSequencesFirst);
      }
      this.sequencesUsed ||= effects.usesSequences;
      this.settingsMayChange ||= effects.changesSettings;
      // As for a Query (see query): whatever it drops is prepared again on demand.
      if (effects.dropsStatements) this.session!.statements.clear();
    }
    if (name === '') {
      const session = this.session!;
      if (session.unnamedKey !== statement.key) {
        session.unnamedKey = statement.key;
        this.send(parseMessage('', statement.definition), {
          kind: 'parse',
          swallowed: true,
          undo: () => (session.unnamedKey = null),
        });
      }
      return this.send(frame, expected);
    }
    this.send(withStatementName(frame, this.prepare(statement, null)), expected);
  }

  /**
   * Makes sure `statement` is prepared on the held connection; its name
   * there. `clientParse`: this is the client's own Parse (its answer is the
   * client's; the undo of its name if it does not take effect), else the
   * gateway prepares it on demand for a Bind or Describe.
   */
  private prepare(statement: ClientStatement, clientParse: (() => void) | null): string {
    const statements = this.session!.statements;
    const preparation = statements.prepare(statement.key);
    if (preparation.evicted) {
      this.send(closeStatementMessage(preparation.evicted), { kind: 'close', swallowed: true });
    }
    if (preparation.parse) {
      this.send(parseMessage(preparation.name, statement.definition), {
        kind: 'parse',
        swallowed: !clientParse,
        undo: () => {
          statements.forget(statement.key);
          clientParse?.();
        },
      });
    } else if (clientParse) {
      this.answer(parseComplete(), clientParse);
    }
    return preparation.name;
  }

  /**
   * An error PostgreSQL would raise at this point of a pipeline, raised by
   * PostgreSQL (a DO block on the unnamed statement), so that it aborts a
   * transaction and skips to the next Sync exactly as PostgreSQL does.
   */
  private raise(sqlstate: string, message: string, instead: number = FE.Parse): void {
    if (instead === FE.Query) {
      this.send(queryMessage(raisingSql(message, sqlstate)), untilReady());
      return;
    }
    const definition = parseDefinitionOf(raisingSql(message, sqlstate));
    this.session!.unnamedKey = null;
    this.send(parseMessage('', definition), { kind: 'parse', swallowed: true });
    this.send(bindUnnamed(), { kind: 'bind', swallowed: true });
    this.send(executeUnnamed(), { kind: 'execute', swallowed: false });
  }

  private send(frame: Buffer, expected: Expected | null): void {
    if (expected) {
      const answerNow = this.pending.expect(expected);
      if (answerNow) this.socket.push(answerNow);
    }
    this.pipelineUpstream = true;
    this.outbox.push(frame);
  }

  /** A client answer the gateway gives itself, in its place among the upstream's. */
  private answer(frame: Buffer, undo?: () => void): void {
    const now = this.pending.expect({ kind: 'synthetic', swallowed: false, answer: frame, undo });
    if (now) this.socket.push(now);
  }

  /**
   * Writes what the client's bytes turned into, in one write; a promise
   * that waits while the upstream is full, else null.
   */
  private flush(): Promise<void> | null {
    if (this.outbox.length === 0 || !this.lease) return null;
    const bytes = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox);
    this.outbox = [];
    const upstream = this.lease.connection.socket;
    if (upstream.write(bytes)) return null;
    return new Promise<void>((resolve) => {
      const done = () => {
        upstream.off('drain', done);
        upstream.off('close', done);
        resolve();
      };
      upstream.on('drain', done);
      upstream.on('close', done);
    });
  }

  // ---- assignment ----

  private async assign(): Promise<void> {
    if (this.lease || this.closed) return;
    const giveUp = new AbortController();
    this.waitingForConnection = giveUp;
    let lease: TransactionLease;
    try {
      lease = await this.options.acquire(giveUp.signal);
    } finally {
      this.waitingForConnection = null;
    }
    if (this.closed) {
      lease.release(true);
      return;
    }
    const { connection } = lease;
    let session = connectionSessions.get(connection);
    if (!session || session.epoch !== connection.sessionEpoch) {
      session = {
        epoch: connection.sessionEpoch,
        statements: new ConnectionStatements(this.options.maxConnectionStatements),
        // What the pool knows is on it; {} for a new connection.
        settings: sessionSettings(lease.settings ?? {}),
        unnamedKey: null,
        suspect: false,
      };
      connectionSessions.set(connection, session);
    }
    this.lease = lease;
    this.session = session;
    this.sequencesUsed = false;
    connection.streamTo(this.upstreamReader);
    const change = settingsChange(session.settings, this.settings);
    if (change) {
      session.settings = this.settings;
      this.send(queryMessage(change), { ...untilReady(), swallowed: true });
    }
  }

  /** The transaction is over: read back settings if they may have changed, then give the connection back. */
  private transactionEnded(): void {
    if (this.settingsMayChange) {
      this.settingsMayChange = false;
      this.send(queryMessage(SESSION_SETTINGS_QUERY), {
        ...untilReady(),
        swallowed: true,
        rows: [],
      });
      void this.flush();
      return;
    }
    this.giveBack(true);
  }

  private giveBack(keep: boolean): void {
    const lease = this.lease;
    if (!lease) return;
    this.lease = null;
    const session = this.session!;
    this.session = null;
    lease.connection.stopStreaming();
    lease.release(keep && !session.suspect && lease.connection.reusable);
  }

  // ---- upstream -> client ----

  private onUpstreamData(chunk: Buffer): void {
    let out: Buffer[];
    try {
      out = this.fromUpstream.push(chunk);
    } catch {
      this.upstreamGone();
      return;
    }
    for (const bytes of out) {
      if (!this.socket.push(bytes)) this.lease?.connection.socket.pause();
    }
    if (this.releaseDue) {
      this.releaseDue = false;
      this.transactionEnded();
    }
  }

  private upstreamMessage(type: number, frame: Buffer): Verdict {
    const answer = this.pending.answer(type, frame);
    this.track(type, frame);
    if (answer.completed) this.completed(answer.completed);
    if (
      type === BE.ReadyForQuery &&
      this.pending.empty &&
      this.status === 'I' &&
      this.outbox.length === 0 &&
      !this.closed
    ) {
      this.releaseDue = true;
    }
    if (answer.due.length === 0) return answer.forward ? 'forward' : 'drop';
    return Buffer.concat(answer.forward ? [frame, ...answer.due] : answer.due);
  }

  private track(type: number, frame: Buffer): void {
    switch (type) {
      case BE.ReadyForQuery:
        this.status = String.fromCharCode(frame[5]!) as TransactionStatus;
        this.copying = null;
        this.lease?.connection.ready(this.status);
        break;
      case BE.CopyInResponse:
        this.copying = 'copy-in';
        break;
      case BE.CopyOutResponse:
        this.copying = 'copy-out';
        break;
      case BE.CopyBothResponse:
        this.copying = 'copy-both';
        break;
      case BE.CopyDone:
        if (this.copying === 'copy-out') this.copying = null;
        break;
    }
  }

  private completed(entry: Expected): void {
    const session = this.session;
    if (!session) return;
    if (entry.kind !== 'until-ready' || !entry.swallowed) return;
    if (entry.rows) {
      const read = entry.rows.map((row) => {
        const [name, value] = parseDataRow(row.subarray(5));
        return [name ?? '', value ?? ''] as const;
      });
      this.settings = sessionSettings(new Map(read));
      session.settings = this.settings;
    }
  }

  private upstreamGone(): void {
    if (!this.lease) return;
    const lease = this.lease;
    this.lease = null;
    this.session = null;
    lease.connection.stopStreaming();
    lease.release(false);
    this.closed = true;
    this.socket.destroy();
  }
}

function untilReady(): Expected & { kind: 'until-ready' } {
  return { kind: 'until-ready', swallowed: false, sync: false };
}

/** The text of a Parse definition: its query, up to the NUL. */
function queryOf(definition: Buffer): string {
  return definition.toString('utf8', 0, Math.max(0, definition.indexOf(0)));
}

/** A statement that makes PostgreSQL raise `message` with `sqlstate`. */
function raisingSql(message: string, sqlstate = '0A000'): string {
  return (
    `DO $postern$BEGIN RAISE EXCEPTION USING ERRCODE = ${quoteLiteral(sqlstate)}, ` +
    `MESSAGE = ${quoteLiteral(message)}; END$postern$`
  );
}

/** A Parse definition of `sql` without parameters. */
function parseDefinitionOf(sql: string): Buffer {
  return Buffer.concat([Buffer.from(`${sql}\0`, 'utf8'), Buffer.from([0, 0])]);
}

function frame(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function queryMessage(sql: string): Buffer {
  return frame(FE.Query, Buffer.from(`${sql}\0`, 'utf8'));
}

/** Bind of the unnamed portal to the unnamed statement, no parameters, text results. */
function bindUnnamed(): Buffer {
  return frame(FE.Bind, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]));
}

function executeUnnamed(): Buffer {
  return frame(FE.Execute, Buffer.from([0, 0, 0, 0, 0]));
}

function parseComplete(): Buffer {
  return frame(BE.ParseComplete, Buffer.alloc(0));
}

function bindComplete(): Buffer {
  return frame(BE.BindComplete, Buffer.alloc(0));
}

function noData(): Buffer {
  return frame(BE.NoData, Buffer.alloc(0));
}

/** ParameterDescription of a statement without parameters. */
function parameterDescriptionNone(): Buffer {
  return frame(BE.ParameterDescription, Buffer.from([0, 0]));
}

function closeComplete(): Buffer {
  return frame(BE.CloseComplete, Buffer.alloc(0));
}

function commandComplete(tag: string): Buffer {
  return frame(BE.CommandComplete, Buffer.from(`${tag}\0`, 'utf8'));
}
