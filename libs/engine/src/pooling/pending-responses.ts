import { BackendType as BE } from '#wire';

/**
 * What a message sent upstream will be answered with, in order: the
 * protocol answers every request in the order sent, so one FIFO matches
 * answers to requests. Entries the gateway sent on its own (a Parse to
 * prepare a client's statement on this connection, a settings round trip)
 * are `swallowed`: their answers never reach the client. Entries the
 * gateway answers itself (`synthetic`) hold the client's answer, sent when
 * the entry reaches the head, so answers keep their order.
 */
export type Expected =
  | {
      readonly kind: 'parse' | 'bind' | 'close' | 'execute' | 'describe-portal';
      readonly swallowed: boolean;
      /** Called when the request did not take effect: it failed, or PostgreSQL skipped it after an error. */
      readonly undo?: () => void;
    }
  | { readonly kind: 'describe-statement'; readonly swallowed: boolean }
  /** Query, FunctionCall and Sync: everything up to ReadyForQuery. */
  | {
      readonly kind: 'until-ready';
      readonly swallowed: boolean;
      /** Rows of a swallowed query, for the gateway (the session-settings read). */
      readonly rows?: Buffer[];
      readonly sync: boolean;
    }
  | {
      readonly kind: 'synthetic';
      readonly swallowed: false;
      readonly answer: Buffer;
      /** As above: a ParseComplete the gateway answered for a Parse PostgreSQL would have skipped. */
      readonly undo?: () => void;
    };

/** What to do with one backend message, decided by `PendingResponses.answer`. */
export interface Answer {
  /** Forward it to the client (false: the gateway's own, dropped). */
  readonly forward: boolean;
  /** The entry it completed, if it completed one. */
  readonly completed: Expected | null;
  /** Client answers the gateway holds that are due after it, in order. */
  readonly due: readonly Buffer[];
}

/*
 * The answers to messages inside a request's answer (every DataRow of a
 * result) are these shared ones, not an object each: `due` is never written.
 */
const NOTHING_DUE: readonly Buffer[] = Object.freeze([]);
const FORWARDED: Answer = Object.freeze({ forward: true, completed: null, due: NOTHING_DUE });
const SWALLOWED: Answer = Object.freeze({ forward: false, completed: null, due: NOTHING_DUE });

export class PendingResponses {
  private readonly queue: Expected[] = [];
  /** After an error in an extended-query pipeline PostgreSQL skips to the next Sync. */
  private skipping = false;

  get empty(): boolean {
    return this.queue.length === 0;
  }

  get length(): number {
    return this.queue.length;
  }

  /**
   * Queues what a message will be answered with. A synthetic answer with
   * nothing ahead of it is due at once: returned instead of queued.
   */
  expect(entry: Expected): Buffer | null {
    if (this.skipping) {
      // PostgreSQL answers nothing up to the Sync that ends the failed pipeline, nor does the gateway.
      if (entry.kind !== 'until-ready' || !entry.sync) {
        undo(entry);
        return null;
      }
      this.skipping = false;
    }
    if (entry.kind === 'synthetic' && this.queue.length === 0) return entry.answer;
    this.queue.push(entry);
    return null;
  }

  /** Whether a message inside the head's answer goes to the client. */
  get headForwarded(): boolean {
    return !this.queue[0]?.swallowed;
  }

  /** Where one backend message goes, and what it completes. */
  answer(type: number, frame: Buffer): Answer {
    const head = this.queue[0];
    if (!head) return FORWARDED;
    switch (type) {
      // Asynchronous messages belong to no request: the client's, unless the gateway's own query runs.
      case BE.NoticeResponse:
      case BE.ParameterStatus:
      case BE.NotificationResponse:
        return this.within(head);
      case BE.ParseComplete:
      case BE.BindComplete:
      case BE.CloseComplete:
      case BE.NoData:
      case BE.PortalSuspended:
        return this.complete();
      case BE.RowDescription:
        return head.kind === 'describe-statement' || head.kind === 'describe-portal'
          ? this.complete()
          : this.within(head);
      case BE.CommandComplete:
      case BE.EmptyQueryResponse:
        return head.kind === 'execute' ? this.complete() : this.within(head);
      case BE.DataRow:
        if (head.kind === 'until-ready' && head.rows) head.rows.push(Buffer.from(frame));
        return this.within(head);
      case BE.ErrorResponse:
        return this.failed(head);
      case BE.ReadyForQuery:
        return this.ready();
      default:
        // ParameterDescription, COPY messages, FunctionCallResponse: inside the head's answer.
        return this.within(head);
    }
  }

  private within(head: Expected): Answer {
    return head.swallowed ? SWALLOWED : FORWARDED;
  }

  private complete(): Answer {
    const head = this.queue.shift()!;
    return { forward: !head.swallowed, completed: head, due: this.dueAnswers() };
  }

  /**
   * An ErrorResponse: a simple query's error is inside its answer (its
   * ReadyForQuery follows); an extended-query request's error ends it, and
   * PostgreSQL answers nothing more up to the next Sync, so nor does the
   * gateway (its synthetic answers in between are dropped too).
   */
  private failed(head: Expected): Answer {
    // A Query's error, or a Sync's (a failed commit): its ReadyForQuery follows.
    if (head.kind === 'until-ready') return this.within(head);
    const failedEntry = this.queue.shift()!;
    undo(failedEntry);
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (next.kind === 'until-ready' && next.sync) break;
      undo(this.queue.shift()!);
    }
    // No Sync sent yet: what the client sends until it is will not be answered either.
    this.skipping = this.queue.length === 0;
    // An error of a swallowed request is the client's too: its own request depended on it.
    return { forward: true, completed: failedEntry, due: NOTHING_DUE };
  }

  private ready(): Answer {
    const head = this.queue.shift();
    if (!head) return FORWARDED;
    return { forward: !head.swallowed, completed: head, due: this.dueAnswers() };
  }

  private dueAnswers(): readonly Buffer[] {
    if (this.queue[0]?.kind !== 'synthetic') return NOTHING_DUE;
    const due: Buffer[] = [];
    while (this.queue[0]?.kind === 'synthetic') {
      due.push((this.queue.shift() as { answer: Buffer }).answer);
    }
    return due;
  }
}

function undo(entry: Expected): void {
  if ('undo' in entry) entry.undo?.();
}
