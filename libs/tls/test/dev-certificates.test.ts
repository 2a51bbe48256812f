import { X509Certificate } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureDevCertificates } from '#tls';
import { withTempDir } from './helpers';

const DAY_MS = 24 * 60 * 60 * 1000;

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

test('generates a CA and server pair with private keys at 0600', () =>
  withTempDir(async (tmp) => {
    const dir = path.join(tmp, 'certs');
    const lines: string[] = [];
    const result = await ensureDevCertificates(dir, (l) => lines.push(l));

    assert.deepEqual(result, {
      caCertPath: path.join(dir, 'ca.crt'),
      certPath: path.join(dir, 'server.crt'),
      keyPath: path.join(dir, 'server.key'),
      generated: true,
    });
    // Creation modes are filtered by the umask, which can only remove bits.
    const umask = process.umask();
    assert.equal(await modeOf(dir), 0o700 & ~umask);
    assert.equal(await modeOf(path.join(dir, 'ca.key')), 0o600 & ~umask);
    assert.equal(await modeOf(path.join(dir, 'server.key')), 0o600 & ~umask);
    assert.equal(await modeOf(path.join(dir, 'ca.crt')), 0o644 & ~umask);
    assert.equal(await modeOf(path.join(dir, 'server.crt')), 0o644 & ~umask);
    assert.equal(lines.length, 2);
  }));

test('certificates carry the expected names, constraints and lifetime', () =>
  withTempDir(async (dir) => {
    const { caCertPath, certPath } = await ensureDevCertificates(dir);
    const ca = new X509Certificate(await readFile(caCertPath));
    const leaf = new X509Certificate(await readFile(certPath));

    assert.equal(ca.subject, 'CN=Postern development CA\nO=Postern');
    assert.equal(ca.ca, true);
    assert.equal(leaf.ca, false);
    assert.equal(leaf.subject, 'CN=localhost');
    assert.equal(
      leaf.subjectAltName,
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    assert.ok(leaf.checkIssued(ca));
    assert.ok(leaf.verify(ca.publicKey));
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']); // extKeyUsage serverAuth
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);

    const lifetimeDays = (Date.parse(leaf.validTo) - Date.now()) / DAY_MS;
    assert.ok(lifetimeDays > 824 && lifetimeDays <= 825, `lifetime ${lifetimeDays}`);
    assert.ok(Date.parse(leaf.validFrom) < Date.now());

    // 16 bytes, positive (top bit clear), no DER padding byte.
    assert.match(leaf.serialNumber, /^[4-7][0-9A-F]{31}$/);
    assert.notEqual(leaf.serialNumber, ca.serialNumber);
  }));

test('a second call keeps the existing files byte for byte', () =>
  withTempDir(async (dir) => {
    const first = await ensureDevCertificates(dir);
    const before = await Promise.all(
      ['ca.crt', 'ca.key', 'server.crt', 'server.key'].map((f) => readFile(path.join(dir, f))),
    );
    const lines: string[] = [];
    const second = await ensureDevCertificates(dir, (l) => lines.push(l));
    const after = await Promise.all(
      ['ca.crt', 'ca.key', 'server.crt', 'server.key'].map((f) => readFile(path.join(dir, f))),
    );

    assert.equal(first.generated, true);
    assert.equal(second.generated, false);
    assert.deepEqual(after, before);
    assert.deepEqual(lines, []);
  }));

test('user-provided server files are used as they are, without a CA', () =>
  withTempDir(async (dir) => {
    await writeFile(path.join(dir, 'server.crt'), 'mine');
    await writeFile(path.join(dir, 'server.key'), 'mine');
    const result = await ensureDevCertificates(dir);
    assert.equal(result.generated, false);
    await assert.rejects(stat(path.join(dir, 'ca.crt')), { code: 'ENOENT' });
  }));

for (const [present, missing] of [
  ['server.crt', 'server.key'],
  ['server.key', 'server.crt'],
]) {
  test(`only ${present} present: the error names the missing ${missing}`, () =>
    withTempDir(async (dir) => {
      await writeFile(path.join(dir, present!), 'x');
      await assert.rejects(ensureDevCertificates(dir), (err: Error) => {
        assert.ok(err.message.includes(path.join(dir, missing!)), err.message);
        assert.match(err.message, /is missing/);
        return true;
      });
      // Nothing was generated next to the lone file.
      await assert.rejects(stat(path.join(dir, 'ca.crt')), { code: 'ENOENT' });
      assert.equal(await readFile(path.join(dir, present!), 'utf8'), 'x');
    }));
}

test('an existing CA is reused to issue a new server certificate', () =>
  withTempDir(async (dir) => {
    const { caCertPath, certPath, keyPath } = await ensureDevCertificates(dir);
    const caBefore = await readFile(caCertPath);
    const caKeyBefore = await readFile(path.join(dir, 'ca.key'));
    const oldLeaf = new X509Certificate(await readFile(certPath));
    await rm(certPath);
    await rm(keyPath);

    const lines: string[] = [];
    const again = await ensureDevCertificates(dir, (l) => lines.push(l));

    assert.equal(again.generated, true);
    assert.deepEqual(await readFile(caCertPath), caBefore);
    assert.deepEqual(await readFile(path.join(dir, 'ca.key')), caKeyBefore);
    const newLeaf = new X509Certificate(await readFile(certPath));
    assert.notEqual(newLeaf.serialNumber, oldLeaf.serialNumber);
    assert.ok(newLeaf.checkIssued(new X509Certificate(caBefore)));
    assert.ok(newLeaf.verify(new X509Certificate(caBefore).publicKey));
    assert.match(lines[0]!, /reusing development CA/);
  }));

test('half a CA is reported, never replaced', () =>
  withTempDir(async (dir) => {
    await writeFile(path.join(dir, 'ca.crt'), 'someone else');
    await assert.rejects(ensureDevCertificates(dir), (err: Error) => {
      assert.ok(err.message.includes(path.join(dir, 'ca.key')), err.message);
      return true;
    });
    assert.equal(await readFile(path.join(dir, 'ca.crt'), 'utf8'), 'someone else');
    await assert.rejects(stat(path.join(dir, 'server.crt')), { code: 'ENOENT' });
    await assert.rejects(stat(path.join(dir, 'server.key')), { code: 'ENOENT' });
  }));

test('a CA whose key does not match is refused', () =>
  withTempDir(async (dir) => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    await ensureDevCertificates(a);
    await ensureDevCertificates(b);
    await writeFile(path.join(dir, 'ca.crt'), await readFile(path.join(a, 'ca.crt')));
    await writeFile(path.join(dir, 'ca.key'), await readFile(path.join(b, 'ca.key')));
    await assert.rejects(ensureDevCertificates(dir), /CA key does not match/);
    await assert.rejects(stat(path.join(dir, 'server.key')), { code: 'ENOENT' });
  }));
