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
}

/**
 * Gateway BackendKeyData -> upstream backend. Clients only ever see keys
 * Postern made up, so a cancel can be checked here and never reveals or
 * reaches an upstream backend on a guess.
 */
export class CancelRegistry {
  private readonly entries = new Map<number, Entry>();

  register(target: CancelTarget): { processId: number; secretKey: Buffer; release(): void } {
    let processId: number;
    do processId = randomInt(1, 2 ** 31 - 1);
    while (this.entries.has(processId));
    const secretKey = randomBytes(4);
    this.entries.set(processId, { secretKey, target });
    return { processId, secretKey, release: () => this.entries.delete(processId) };
  }

  /** Sends the upstream CancelRequest when the key matches; silent otherwise. */
  cancel(processId: number, secretKey: Buffer): boolean {
    const entry = this.entries.get(processId);
    if (!entry || !safeEqual(secretKey, entry.secretKey)) return false;
    const { host, port, processId: upstreamPid, secretKey: upstreamKey } = entry.target;
    const packet = Buffer.alloc(12 + upstreamKey.length);
    packet.writeInt32BE(packet.length, 0);
    packet.writeInt32BE(80877102, 4);
    packet.writeUInt32BE(upstreamPid, 8);
    upstreamKey.copy(packet, 12);
    const socket = net.connect({ host, port }, () => socket.end(packet));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(5000, () => socket.destroy());
    return true;
  }
}
