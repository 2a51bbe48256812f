import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateStore, ensureDevCertificates } from '#tls';
import { ipv6Available, withTempDir } from './helpers';

const PSQL = '/usr/bin/psql';
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Answers libpq's SSLRequest with 'S', completes TLS, then fails the startup with a marker. */
function fakePostgres(store: CertificateStore, host: string): Promise<net.Server> {
  const server = net.createServer((raw) => {
    raw.on('error', () => undefined);
    raw.once('data', (first) => {
      if (!first.equals(SSL_REQUEST)) return raw.destroy();
      raw.write('S');
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: store.secureContext });
      secure.on('error', () => secure.destroy());
      secure.once('data', () => {
        const fields = Buffer.from('SFATAL\0C28000\0Mtls-ok\0\0');
        const header = Buffer.alloc(5);
        header.write('E');
        header.writeInt32BE(fields.length + 4, 1);
        secure.end(Buffer.concat([header, fields]));
      });
    });
  });
  return new Promise((resolve) => server.listen(0, host, () => resolve(server)));
}

function psql(conninfo: string, home: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      PSQL,
      ['-w', '-c', 'select 1', conninfo],
      // A private HOME keeps ~/.postgresql client certificates and service files out of it.
      { env: { PATH: process.env.PATH, HOME: home, PGCONNECT_TIMEOUT: '5' }, timeout: 15_000 },
      (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
    );
  });
}

test(
  'libpq sslmode=verify-full trusts the dev CA',
  { skip: !existsSync(PSQL) && 'psql not installed' },
  () =>
    withTempDir(async (dir) => {
      const { caCertPath, certPath, keyPath } = await ensureDevCertificates(dir);
      const store = await CertificateStore.load(certPath, keyPath);
      const listeners = ['127.0.0.1'];
      if (await ipv6Available()) listeners.push('::1');
      const servers = await Promise.all(listeners.map((h) => fakePostgres(store, h)));
      // Same port on both families is not guaranteed, so each target gets its own port.
      const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
      const common = `sslmode=verify-full sslrootcert=${caCertPath} gssencmode=disable user=u dbname=d`;
      try {
        const targets = [
          `host=localhost hostaddr=127.0.0.1 port=${ports[0]}`,
          `host=127.0.0.1 port=${ports[0]}`,
          ...(ports[1] ? [`host=::1 port=${ports[1]}`] : []),
        ];
        for (const target of targets) {
          const out = await psql(`${target} ${common}`, dir);
          assert.match(out, /FATAL:\s+tls-ok/, `${target}: ${out}`);
        }
        const wrongName = await psql(
          `host=example.invalid hostaddr=127.0.0.1 port=${ports[0]} ${common}`,
          dir,
        );
        assert.match(wrongName, /does not match host name "example\.invalid"/, wrongName);
      } finally {
        for (const s of servers) s.close();
      }
    }),
);
