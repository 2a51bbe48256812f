import net from 'node:net';

/**
 * A TCP proxy that forwards every connection to `targetPort` unchanged and
 * keeps what each client sent, in accept order. Plaintext only: the
 * recorded clients are told not to use TLS.
 */
export class RecordingProxy {
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    /** Client -> server chunks of each connection. */
    private readonly streams: Buffer[][],
  ) {}

  static async start(targetPort: number): Promise<RecordingProxy> {
    const streams: Buffer[][] = [];
    const server = net.createServer((client) => {
      const chunks: Buffer[] = [];
      streams.push(chunks);
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      client.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new RecordingProxy(server, (server.address() as net.AddressInfo).port, streams);
  }

  /** Every connection's stream, concatenated, forgetting them. */
  take(): Buffer[] {
    return this.streams.splice(0).map((chunks) => Buffer.concat(chunks));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
