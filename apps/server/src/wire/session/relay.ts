import type { Duplex } from 'node:stream';

/**
 * Byte-faithful relay between an authenticated client and its upstream
 * session. `pipe` gives backpressure both ways: a slow reader pauses the
 * other side instead of growing buffers. When either side ends, both do.
 */
export function relay(
  client: Duplex,
  pipelined: Buffer,
  upstream: Duplex,
  onClosed: () => void,
): void {
  let closed = false;
  const closeBoth = () => {
    if (closed) return;
    closed = true;
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.destroy();
    upstream.destroy();
    onClosed();
  };
  for (const side of [client, upstream]) {
    side.on('error', closeBoth);
    side.on('close', closeBoth);
    side.on('end', closeBoth);
  }
  // Messages the client pipelined after its final SASL message belong to
  // this, the authenticated, session (PROTO-06b).
  if (pipelined.length > 0) upstream.write(pipelined);
  client.pipe(upstream, { end: false });
  upstream.pipe(client, { end: false });
  client.resume();
  upstream.resume();
}
