import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { safeEqual } from '#auth';

/** Where a cancel for one client session must go upstream. */
export interface CancelTarget {
  readonly host: string;
  readonly port: number;
  readonly processId: number;
  readonly secretKey: Buffer;
}

interface Entry {
  readonly secretKey: Buffer;
  readonly target: CancelTarget;
  /** Told about every accepted cancel: that upstream connection is then never pooled. */
  readonly onCancel: () => void;
}

/**
 * Gateway BackendKeyData -> upstream backend. Clients only ever see keys
 * Postern made up (random pid and key), so a cancel is checked here and
 * never reveals or reaches an upstream backend on a guess. Nothing is ever
 * written to a cancel connection.
 *
 * There is no rate limit (HARD-14): one would have to refuse cancels that
 * might be right, so a stranger sharing a client's address (NAT) could
 * disable that client's cancels. Guessing is pointless without one: the
 * process id is 31 random bits and the key 32 more, a wrong guess is never
 * answered, and each guess costs a connection that counts against the
 * unauthenticated-connection limits. Even an attacker who learnt a process
 * id faces 2^32 keys, a search PostgreSQL itself leaves open with pids that
 * are public.
 */
export class CancelRegistry {
  private readonly entries = new Map<number, Entry>();

  register(
    target: CancelTarget,
    onCancel: () => void,
  ): { processId: number; secretKey: Buffer; release(): void } {
    let processId: number;
    do processId = randomInt(1, 2 ** 31 - 1);
    while (this.entries.has(processId));
    const secretKey = randomBytes(4);
    this.entries.set(processId, { secretKey, target, onCancel });
    return { processId, secretKey, release: () => this.entries.delete(processId) };
  }

  /** Forwards the cancel when the key matches (compared in constant time); silent otherwise. */
  cancel(processId: number, secretKey: Buffer): boolean {
    const entry = this.entries.get(processId);
    if (!entry || !safeEqual(secretKey, entry.secretKey)) return false;
    entry.onCancel();
    void sendCancelRequest(entry.target);
    return true;
  }
}

/**
 * A CancelRequest to PostgreSQL. Resolves when the postmaster closed the
 * connection, i.e. after it signalled the backend: only then may that
 * backend be given more work (PgBouncer #717).
 */
export function sendCancelRequest(target: CancelTarget): Promise<void> {
  const packet = Buffer.alloc(12 + target.secretKey.length);
  packet.writeInt32BE(packet.length, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeUInt32BE(target.processId, 8);
  target.secretKey.copy(packet, 12);
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port }, () =>
      socket.write(packet),
    );
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => resolve());
    socket.resume();
  });
}
