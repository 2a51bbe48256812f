import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  hbaConfiguration,
  prepareSocketDirectory,
  removeSocketDirectory,
  socketDirectorySetting,
} from '../src/cluster/tenant-socket';

describe('the embedded cluster socket and pg_hba (HARD-05)', () => {
  test('HARD-05 the socket lives in <data>/run, mode 0700, when the path fits a Unix socket', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'postern-socket-'));
    try {
      const dir = await prepareSocketDirectory(dataDir);
      assert.deepEqual(dir, { path: path.join(dataDir, 'run'), temporary: false });
      assert.equal((await stat(dir.path)).mode & 0o777, 0o700);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('HARD-05 a data dir too long for a socket path gets a private temporary directory instead', async () => {
    const dataDir = path.join(tmpdir(), 'postern-'.padEnd(120, 'x'));
    const dir = await prepareSocketDirectory(dataDir);
    try {
      assert.equal(dir.temporary, true);
      assert.ok(Buffer.byteLength(path.join(dir.path, '.s.PGSQL.65535')) <= 107);
      assert.equal((await stat(dir.path)).mode & 0o777, 0o700);
    } finally {
      await removeSocketDirectory(dir);
    }
    await assert.rejects(stat(dir.path), { code: 'ENOENT' });
  });

  test('HARD-05 pg_hba: any role over the socket, only the superuser over TCP, then reject', () => {
    const lines = hbaConfiguration('postgres')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.split(/\s+/));
    assert.deepEqual(lines, [
      ['local', 'all', 'all', 'scram-sha-256'],
      ['host', 'all', '"postgres"', '127.0.0.1/32', 'scram-sha-256'],
      ['host', 'all', 'all', 'all', 'reject'],
    ]);
  });

  test('unix_socket_directories gets the path as one quoted list element', () => {
    assert.equal(socketDirectorySetting('/a b,c/"d"'), '"/a b,c/""d"""');
  });
});
