import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { CertificateStore } from '#tls';

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postern-tls-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Plain TCP listener that upgrades every connection with the store's *current* context, the
 * way the gateway does after a PostgreSQL SSLRequest, so reloads apply to new connections.
 */
export async function startUpgradingServer(
  store: CertificateStore,
  host: string,
): Promise<RunningServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: store.secureContext });
    secure.on('error', () => secure.destroy());
    secure.on('secure', () => secure.end('hello'));
  });
  return listen(server, host, sockets);
}

/**
 * tls.Server variant. tls.Server ignores a ready-made `secureContext` option, so the store's
 * context is handed out through SNICallback, which only runs when the client sends SNI.
 */
export async function startTlsServer(
  store: CertificateStore,
  host: string,
): Promise<RunningServer> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({
    SNICallback: (_name, cb) => cb(null, store.secureContext),
  });
  server.on('secureConnection', (s) => s.end('hello'));
  server.on('tlsClientError', () => undefined);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return listen(server, host, sockets);
}

function listen(
  server: net.Server,
  host: string,
  sockets: Set<net.Socket>,
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Connects with default hostname checking and returns the peer certificate. */
export function connect(options: tls.ConnectionOptions): Promise<tls.DetailedPeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(options, () => {
      const peer = socket.getPeerCertificate(true);
      socket.destroy();
      resolve(peer);
    });
    socket.once('error', reject);
  });
}

/** Whether this host can bind to ::1 (some CI containers have IPv6 disabled). */
export async function ipv6Available(): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}
