import { randomBytes } from 'node:crypto';
import { safeEqual } from '#auth';
import type { UpstreamConnection } from '#engine';

/**
 * What a cancel reaches: an upstream connection, or a transaction-pooled
 * session, which cancels the statement it runs now, if any.
 */
export type Cancellable = Pick<UpstreamConnection, 'processId' | 'cancel'>;

interface Entry {
  /** The key this client session was given: the gateway's, fresh per session. */
  readonly secretKey: Buffer;
  readonly connection: Cancellable;
}

/** What a client is told in BackendKeyData. */
export interface SessionKey {
  /** The upstream backend's own pid (`pg_backend_pid()`). */
  readonly processId: number;
  readonly secretKey: Buffer;
  /** Forgets the key: cancels with it reach nothing from now on. */
  release(): void;
}

/**
 * Client BackendKeyData -> upstream connection. A client is given its
 * upstream backend's pid, so that `pg_terminate_backend`, `pg_stat_activity`
 * look-ups and NOTIFY sender checks by its own pid work, and a secret key
 * of the gateway's, drawn per client session: the upstream's key never
 * leaves the gateway, and a pooled connection gets a new key with every
 * client, so a late cancel from an earlier client of the connection finds
 * no match and can never hit the next one. A cancel is checked here
 * (constant time) and then sent by the connection itself, which marks it as
 * never reusable. Nothing is ever written to a cancel connection.
 *
 * There is no rate limit (HARD-14): one would have to refuse cancels that
 * might be right, so a stranger sharing a client's address (NAT) could
 * disable that client's cancels. Guessing is pointless without one: a
 * wrong guess is never answered, each guess costs a connection that counts
 * against the unauthenticated-connection limits, and the key is 32 random
 * bits; pids are no secret (PostgreSQL shows them in pg_stat_activity).
 */
export class CancelRegistry {
  private readonly entries = new Map<number, Entry>();

  register(connection: Cancellable): SessionKey {
    const processId = connection.processId;
    const entry: Entry = { secretKey: randomBytes(4), connection };
    // One connection serves one client session at a time, and pids are unique in the cluster.
    this.entries.set(processId, entry);
    return {
      processId,
      secretKey: entry.secretKey,
      release: () => {
        // Only its own: a later session of the same connection may hold the pid by now.
        if (this.entries.get(processId) === entry) this.entries.delete(processId);
      },
    };
  }

  /** Forwards the cancel when the key matches (compared in constant time); silent otherwise. */
  cancel(processId: number, secretKey: Buffer): boolean {
    const entry = this.entries.get(processId);
    if (!entry || !safeEqual(secretKey, entry.secretKey)) return false;
    void entry.connection.cancel();
    return true;
  }
}
