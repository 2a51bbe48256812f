import type { Verdict } from '#wire';
import type { Lease } from '../upstream/pool';

/**
 * BackendKeyData pids of sessions whose backend is unknown at login
 * (transaction pooling, session pooling assigned at first use): no
 * backend's, above Linux's largest pid (2^22) so that they never equal
 * one (LiveSessions and cancels are keyed by them).
 */
let nextGatewayProcessId = 0x40000000;
export function gatewayProcessId(): number {
  nextGatewayProcessId = nextGatewayProcessId >= 0x7fffffff ? 0x40000000 : nextGatewayProcessId + 1;
  return nextGatewayProcessId;
}

/**
 * `unassigned`: logged in, no connection; `assigning`: waiting for the
 * pool (`giveUp` takes it out of the queue); `assigned`: holding one to
 * the session's end; `ended`: a lease that arrives now goes straight back.
 */
type Assignment =
  | { readonly kind: 'unassigned' }
  | { readonly kind: 'assigning'; readonly giveUp: AbortController }
  | { readonly kind: 'assigned'; readonly lease: Lease }
  | { readonly kind: 'ended' };

/**
 * How an assign() ended: the connection taken; `cancelled`: a cancel came
 * while it waited (the session is unassigned again, its first statement
 * is to fail with 57014); `ended`: the session ended while it waited.
 * Either way no connection is kept: a late one went straight back.
 */
export type AssignOutcome =
  | { readonly kind: 'assigned'; readonly lease: Lease }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'ended' };

/** Why a wait for the pool was given up (the abort reason). */
export class AssignmentAbandoned extends Error {}

/**
 * Session pooling with the upstream connection assigned at first use: the
 * session logs in holding none, takes one (`assign`, the same lease a
 * login would take, with the client's settings) when its client first
 * sends something, and keeps it to its end, so that everything session
 * pooling guarantees holds from then on. Its client was told a pid of the
 * gateway's: cancels reach the held connection, or the wait for one (the
 * waiting statement is cancelled as PostgreSQL would), or nothing before;
 * notifications its own backend sent are given that pid (`notification`),
 * so that clients recognise their own. The relay then runs on the lease's
 * connection itself, as in session pooling from login.
 */
export class LazySessionUpstream {
  private assignment: Assignment = { kind: 'unassigned' };

  constructor(
    /**
     * A session connection of the database's pool, with the client's
     * settings applied; `signal` aborts when the wait is given up.
     */
    private readonly acquire: (signal: AbortSignal) => Promise<Lease>,
    /** What the client is told in BackendKeyData. */
    readonly processId: number,
  ) {}

  /** The lease held now, if any. */
  get lease(): Lease | null {
    return this.assignment.kind === 'assigned' ? this.assignment.lease : null;
  }

  /** Takes the session's connection (see AssignOutcome). Rejects as the acquire does. */
  async assign(): Promise<AssignOutcome> {
    if (this.assignment.kind !== 'unassigned')
      throw new Error(`assign() while ${this.assignment.kind}`);
    const giveUp = new AbortController();
    this.assignment = { kind: 'assigning', giveUp };
    let lease: Lease;
    try {
      lease = await this.acquire(giveUp.signal);
    } catch (err) {
      if (giveUp.signal.aborted) return this.gaveUp();
      this.assignment = { kind: 'ended' };
      throw err;
    }
    // Given up while the connection was being made ready (cancel() or release(), from another turn).
    if (giveUp.signal.aborted) {
      lease.release();
      return this.gaveUp();
    }
    this.assignment = { kind: 'assigned', lease };
    return { kind: 'assigned', lease };
  }

  private gaveUp(): AssignOutcome {
    if (this.assignment.kind === 'ended') return { kind: 'ended' };
    this.assignment = { kind: 'unassigned' };
    return { kind: 'cancelled' };
  }

  /**
   * Cancels the statement running on the held connection, or the one
   * waiting for it (it leaves the pool's queue); before, nothing runs.
   */
  cancel(): Promise<void> {
    if (this.assignment.kind === 'assigning') {
      this.assignment.giveUp.abort(new AssignmentAbandoned('cancelled'));
    }
    return this.lease?.connection.cancel() ?? Promise.resolve();
  }

  /**
   * The session is being ended by terminating its backend: the pid of the
   * connection it holds (never to be handed to anyone else), or null when
   * it holds none.
   */
  retire(): number | null {
    const lease = this.lease;
    if (!lease) return null;
    lease.connection.retire();
    return lease.connection.processId;
  }

  /**
   * The session ended: the held connection goes back (the relay discarded
   * it if it was not idle), or the wait for one is given up.
   */
  release(): void {
    const { assignment } = this;
    this.assignment = { kind: 'ended' };
    if (assignment.kind === 'assigning') {
      assignment.giveUp.abort(new AssignmentAbandoned('session ended'));
    }
    if (assignment.kind === 'assigned') assignment.lease.release();
  }

  /**
   * A NotificationResponse for the client: one its own backend sent
   * carries the pid its client was told (psql, libpq and psycopg compare
   * it with their own); others' pass unchanged.
   */
  notification(frame: Buffer): Verdict {
    const lease = this.lease;
    if (!lease) return 'forward';
    return notificationSenderReplaced(frame, lease.connection.processId, this.processId);
  }
}

/** NotificationResponse `frame` with sender `from` said to come from `to`; others unchanged. */
export function notificationSenderReplaced(frame: Buffer, from: number, to: number): Verdict {
  if (frame.length < 9 || frame.readInt32BE(5) !== from) return 'forward';
  const replaced = Buffer.from(frame);
  replaced.writeInt32BE(to, 5);
  return replaced;
}
