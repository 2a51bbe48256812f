import net from 'node:net';

/**
 * The least a Node relay can do: every client connection gets its own
 * connection to PostgreSQL and bytes pass both ways unread (no parsing, no
 * pool, no TLS), with the same backpressure and TCP_NODELAY as the gateway.
 * pgbench-compare's `floor` path runs it, so that the gateway's CPU per
 * transaction can be read against what Node's sockets cost by themselves.
 *
 *   node dist/bench/node-relay-floor.js <listen port> <upstream socket path>
 */
function relay(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('close', () => to.destroy());
  from.on('error', () => to.destroy());
}

if (require.main === module) {
  const [port, upstreamPath] = process.argv.slice(2);
  if (!port || !upstreamPath) {
    console.error('usage: node dist/bench/node-relay-floor.js <port> <upstream socket path>');
    process.exit(2);
  }
  net
    .createServer({ noDelay: true }, (client) => {
      const upstream = net.connect(upstreamPath);
      relay(client, upstream);
      relay(upstream, client);
    })
    .listen(Number(port), '127.0.0.1', () => process.send?.('listening'));
}
