import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DataDirInUse, lockDataDir } from '../src/cluster/data-dir-lock';

test('OPS-08c the data directory lock: a live holder refuses, a dead one is taken over, release removes only our own', async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'postern-lock-'));
  const lockFile = path.join(dataDir, 'postern.lock');
  try {
    // A live holder: the test runner's parent process.
    await writeFile(lockFile, `${process.ppid}\n`);
    assert.throws(
      () => lockDataDir(dataDir),
      (err: Error) =>
        err instanceof DataDirInUse &&
        err.message.startsWith(
          `another Postern (pid ${process.ppid}) is running on the data directory`,
        ),
    );
    // A holder that has exited: its pid is free.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    await writeFile(lockFile, `${gone.stdout.toString()}\n`);
    const release = lockDataDir(dataDir);
    assert.equal(await readFile(lockFile, 'utf8'), `${process.pid}\n`);
    release();
    assert.equal(existsSync(lockFile), false);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
