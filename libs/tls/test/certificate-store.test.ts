import { X509Certificate, createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateStore, ensureDevCertificates } from '#tls';
import {
  connect,
  ipv6Available,
  startTlsServer,
  startUpgradingServer,
  withTempDir,
} from './helpers';

async function devStore(dir: string) {
  const paths = await ensureDevCertificates(dir);
  const store = await CertificateStore.load(paths.certPath, paths.keyPath);
  return { ...paths, store, ca: await readFile(paths.caCertPath) };
}

/** Another server pair issued by the CA in `dir`, so clients trusting ca.crt accept both. */
async function siblingPair(dir: string, name: string): Promise<{ cert: Buffer; key: Buffer }> {
  const other = path.join(dir, name);
  await mkdir(other);
  await copyFile(path.join(dir, 'ca.crt'), path.join(other, 'ca.crt'));
  await copyFile(path.join(dir, 'ca.key'), path.join(other, 'ca.key'));
  await ensureDevCertificates(other);
  return {
    cert: await readFile(path.join(other, 'server.crt')),
    key: await readFile(path.join(other, 'server.key')),
  };
}

function serialOf(pem: Buffer): string {
  return new X509Certificate(pem).serialNumber;
}

test('clients verifying against the dev CA accept localhost, 127.0.0.1 and ::1', async (t) => {
  const hosts = ['localhost', '127.0.0.1'];
  if (await ipv6Available()) hosts.push('::1');
  else t.diagnostic('IPv6 unavailable: ::1 not tested');

  await withTempDir(async (dir) => {
    const { store, ca } = await devStore(dir);
    for (const host of hosts) {
      const listenOn = host === 'localhost' ? '127.0.0.1' : host;
      for (const start of [startUpgradingServer, startTlsServer]) {
        const server = await start(store, listenOn);
        try {
          // servername 'localhost': SNI plus the DNS SAN check.
          const viaName = await connect({ host, port: server.port, ca, servername: 'localhost' });
          assert.equal(viaName.subject.CN, 'localhost');
          // No servername: Node checks the address itself against the IP SANs.
          if (start === startUpgradingServer) {
            const direct = await connect({ host, port: server.port, ca });
            assert.equal(direct.subject.CN, 'localhost');
          }
        } finally {
          await server.close();
        }
      }
    }
  });
});

test('clients reject the certificate for other names and without the CA', () =>
  withTempDir(async (dir) => {
    const { store, ca } = await devStore(dir);
    const server = await startUpgradingServer(store, '127.0.0.1');
    try {
      await assert.rejects(
        connect({ host: '127.0.0.1', port: server.port, ca, servername: 'example.com' }),
        { code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
      );
      await assert.rejects(connect({ host: '127.0.0.1', port: server.port }), {
        code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
    } finally {
      await server.close();
    }
  }));

test('the server accepts TLS 1.2 and refuses TLS 1.1', () =>
  withTempDir(async (dir) => {
    const { store, ca } = await devStore(dir);
    const server = await startUpgradingServer(store, '127.0.0.1');
    const base = { host: '127.0.0.1', port: server.port, ca, servername: 'localhost' };
    try {
      await connect({ ...base, maxVersion: 'TLSv1.2' });
      // SECLEVEL=0 lets this client offer TLS 1.1, so the alert can only come from the server.
      await assert.rejects(
        connect({
          ...base,
          minVersion: 'TLSv1',
          maxVersion: 'TLSv1.1',
          ciphers: 'DEFAULT@SECLEVEL=0',
        }),
        { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' },
      );
    } finally {
      await server.close();
    }
  }));

test('tlsServerEndPoint is SHA-256 of the leaf DER, as a client computes it', () =>
  withTempDir(async (dir) => {
    const { store, ca, certPath } = await devStore(dir);
    const der = new X509Certificate(await readFile(certPath)).raw;
    assert.deepEqual(store.certificateDer, der);
    assert.deepEqual(store.tlsServerEndPoint, createHash('sha256').update(der).digest());

    const server = await startUpgradingServer(store, '127.0.0.1');
    try {
      const peer = await connect({
        host: '127.0.0.1',
        port: server.port,
        ca,
        servername: 'localhost',
      });
      assert.deepEqual(store.tlsServerEndPoint, createHash('sha256').update(peer.raw).digest());
    } finally {
      await server.close();
    }
  }));

test('load names the unreadable or mismatched file', () =>
  withTempDir(async (dir) => {
    const { certPath, keyPath } = await devStore(dir);
    const missing = path.join(dir, 'nope.crt');
    await assert.rejects(CertificateStore.load(missing, keyPath), (err: Error) =>
      err.message.includes(missing),
    );
    const garbage = path.join(dir, 'garbage.key');
    await writeFile(garbage, 'not a key');
    await assert.rejects(CertificateStore.load(certPath, garbage), (err: Error) =>
      err.message.includes(garbage),
    );
    const other = await siblingPair(dir, 'other');
    const otherKey = path.join(dir, 'other.key');
    await writeFile(otherKey, other.key);
    await assert.rejects(
      CertificateStore.load(certPath, otherKey),
      new RegExp(`${otherKey.replace(/[.\\]/g, '\\$&')} does not match certificate file`),
    );
  }));

test('reload installs replaced files for new connections and keeps them on garbage', () =>
  withTempDir(async (dir) => {
    const { store, ca, certPath, keyPath } = await devStore(dir);
    const firstSerial = serialOf(await readFile(certPath));
    assert.equal(await store.reload(), false, 'unchanged files are not a change');

    const server = await startUpgradingServer(store, '127.0.0.1');
    const peerSerial = async () =>
      (await connect({ host: '127.0.0.1', port: server.port, ca, servername: 'localhost' }))
        .serialNumber;
    try {
      assert.equal(await peerSerial(), firstSerial);

      const next = await siblingPair(dir, 'next');
      await writeFile(certPath, next.cert);
      await writeFile(keyPath, next.key);
      assert.equal(await store.reload(), true);
      const nextSerial = serialOf(next.cert);
      assert.notEqual(nextSerial, firstSerial);
      assert.equal(await peerSerial(), nextSerial);
      assert.deepEqual(store.certificateDer, new X509Certificate(next.cert).raw);
      assert.deepEqual(
        store.tlsServerEndPoint,
        createHash('sha256').update(store.certificateDer).digest(),
      );

      await writeFile(certPath, 'garbage');
      await assert.rejects(store.reload(), (err: Error) => err.message.includes(certPath));
      assert.equal(await peerSerial(), nextSerial);
      assert.deepEqual(store.certificateDer, new X509Certificate(next.cert).raw);

      // A new certificate next to the old key is a mismatch, not an update.
      await writeFile(certPath, (await siblingPair(dir, 'third')).cert);
      await assert.rejects(store.reload(), /does not match/);
      assert.equal(await peerSerial(), nextSerial);
    } finally {
      await server.close();
    }
  }));

test('watch reloads after the files are replaced and reports unusable ones', () =>
  withTempDir(async (dir) => {
    const { store, certPath, keyPath } = await devStore(dir);
    const events: (Error | undefined)[] = [];
    let wake: () => void = () => {};
    const unwatch = store.watch(
      (err) => {
        events.push(err);
        wake();
      },
      { intervalMs: 20, debounceMs: 50 },
    );
    // The watcher deliberately does not keep the process alive; this timer does, and bounds the wait.
    const nextEvent = () =>
      new Promise<void>((resolve, reject) => {
        const timeout = setTimeout(() => reject(new Error('no watch event within 5s')), 5000);
        wake = () => {
          clearTimeout(timeout);
          resolve();
        };
      });
    try {
      // Replace both files the way deployment tools do: write aside, then rename over.
      const next = await siblingPair(dir, 'next');
      let event = nextEvent();
      await writeFile(`${certPath}.tmp`, next.cert);
      await writeFile(`${keyPath}.tmp`, next.key);
      await rename(`${keyPath}.tmp`, keyPath);
      await rename(`${certPath}.tmp`, certPath);
      await event;
      assert.equal(events.length, 1);
      assert.equal(events[0], undefined);
      assert.equal(new X509Certificate(store.certificateDer).serialNumber, serialOf(next.cert));

      event = nextEvent();
      await writeFile(keyPath, 'garbage');
      await event;
      assert.equal(events.length, 2);
      assert.ok(events[1]?.message.includes(keyPath));
      assert.equal(new X509Certificate(store.certificateDer).serialNumber, serialOf(next.cert));
    } finally {
      unwatch();
    }
  }));
