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
 * pool; `assigned`: holding one to the session's end; `ended`: a lease
 * that arrives now goes straight back.
 */
type Assignment =
  | { readonly kind: 'unassigned' }
  | { readonly kind: 'assigning' }
  | { readonly kind: 'assigned'; readonly lease: Lease }
  | { readonly kind: 'ended' };

/**
 * Session pooling with the upstream connection assigned at first use: the
 * session logs in holding none, takes one (`assign`, the same lease a
 * login would take, with the client's settings) when its client first
 * sends something, and keeps it to its end, so that everything session
 * pooling guarantees holds from then on. Its client was told a pid of the
 * gateway's: cancels reach the held connection (or nothing before), and
 * notifications its own backend sent are given that pid (`notification`),
 * so that clients recognise their own. The relay then runs on the lease's
 * connection itself, as in session pooling from login.
 */
export class LazySessionUpstream {
  private assignment: Assignment = { kind: 'unassigned' };

  constructor(
    /** A session connection of the database's pool, with the client's settings applied. */
    private readonly acquire: () => Promise<Lease>,
    /** What the client is told in BackendKeyData. */
    readonly processId: number,
  ) {}

  /** The lease held now, if any. */
  get lease(): Lease | null {
    return this.assignment.kind === 'assigned' ? this.assignment.lease : null;
  }

  /**
   * Takes the session's connection; null when the session ended while it
   * waited (the lease went back). Rejects as the acquire does.
   */
  async assign(): Promise<Lease | null> {
    if (this.assignment.kind !== 'unassigned')
      throw new Error(`assign() while ${this.assignment.kind}`);
    this.assignment = { kind: 'assigning' };
    let lease: Lease;
    try {
      lease = await this.acquire();
    } catch (err) {
      if (this.assignment.kind === 'assigning') this.assignment = { kind: 'ended' };
      throw err;
    }
    // The session may have ended while it waited (release(), from another turn).
    if ((this.assignment as Assignment).kind === 'ended') {
      lease.release();
      return null;
    }
    this.assignment = { kind: 'assigned', lease };
    return lease;
  }

  /** Cancels the statement running on the held connection; before assignment nothing runs. */
  cancel(): Promise<void> {
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

  /** The session ended: the held connection goes back (the relay discarded it if it was not idle). */
  release(): void {
    const lease = this.lease;
    this.assignment = { kind: 'ended' };
    lease?.release();
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
