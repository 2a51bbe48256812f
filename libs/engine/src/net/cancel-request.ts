import net from 'node:net';
import { StartupCode } from '#wire';

/** Where a CancelRequest for one upstream backend goes (the cluster's TCP port: pg_hba does not apply). */
export interface CancelTarget {
  readonly host: string;
  readonly port: number;
  readonly processId: number;
  readonly secretKey: Buffer;
}

/** How long a CancelRequest may take before the attempt is given up. */
const CANCEL_TIMEOUT_MS = 5000;

/**
 * A CancelRequest to PostgreSQL. Resolves when the postmaster closed the
 * connection, i.e. after it signalled the backend: only then may that
 * backend be given more work (PgBouncer #717). Never rejects.
 */
export function sendCancelRequest(target: CancelTarget): Promise<void> {
  const packet = Buffer.alloc(12 + target.secretKey.length);
  packet.writeInt32BE(packet.length, 0);
  packet.writeInt32BE(StartupCode.CancelRequest, 4);
  packet.writeUInt32BE(target.processId, 8);
  target.secretKey.copy(packet, 12);
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port }, () =>
      socket.write(packet),
    );
    socket.setTimeout(CANCEL_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => resolve());
    socket.resume();
  });
}
