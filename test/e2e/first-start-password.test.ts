import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AdminHttp } from '../support/admin-http';
import { CLI } from '../support/cli';
import { PosternProcess } from '../support/postern-process';

/**
 * First start: the generated admin password is on disk (0600) before the
 * admin exists, survives whatever happens to the output, is what `postern
 * start` created the admin with, and goes when the admin changes it.
 */
describe('the generated admin password of the first start', () => {
  test('FIRST-01 a password left by a start that failed before creating the admin is the one the admin gets; the file goes on a password change', async () => {
    const workDir = await mkdtemp(path.join(tmpdir(), 'postern-first-'));
    const file = path.join(workDir, 'data', 'secrets', 'initial-admin-password');
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, 'left-by-a-failed-start\n', { mode: 0o600 });
    let postern = await PosternProcess.start({
      workDir,
      env: { POSTERN_ADMIN_PASSWORD: undefined },
      args: [CLI, 'start'],
    });
    try {
      assert.match(
        postern.log,
        /Site admin "admin" was created with this password:\n {4}left-by-a-failed-start\n/,
      );
      assert.ok(postern.log.includes(`kept in ${file}`), postern.log);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      await AdminHttp.of(postern).login('admin', 'left-by-a-failed-start');

      // The output is gone; a later start names the file, which still works.
      assert.equal(await postern.stop(), 0);
      postern = await PosternProcess.start({ workDir, env: { POSTERN_ADMIN_PASSWORD: undefined } });
      assert.doesNotMatch(postern.log, /created with this password/);
      assert.ok(postern.log.includes(`kept in ${file}`), postern.log);
      const http = AdminHttp.of(postern);
      const admin = await http.login('admin', (await readFile(file, 'utf8')).trim());

      const changed = await http.call('PUT', '/entities/admin/password', {
        token: admin,
        body: { password: 'a-password-of-my-own' },
      });
      assert.equal(changed.status, 204);
      assert.equal(existsSync(file), false);
    } finally {
      await postern.dispose();
    }
  });
});
