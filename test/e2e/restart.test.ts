import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { describe, test } from 'node:test';
import pg from 'pg';
import { PosternProcess } from '../support/postern-process';

async function withAdmin<T>(
  postern: PosternProcess,
  password: string,
  work: (c: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({
    host: 'localhost',
    port: postern.wirePort,
    user: 'admin',
    password,
    database: 'admin/main',
    ssl: { ca: await postern.ca(), servername: 'localhost' },
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('restart', () => {
  test('a second start keeps tables, rows and the admin, prints no new password, and stops cleanly', async () => {
    const first = await PosternProcess.start({ env: { POSTERN_ADMIN_PASSWORD: undefined } });
    const workDir = first.workDir;
    try {
      const password = /created with this password[^\n]*\n\s+(\S+)/.exec(first.log)?.[1];
      assert.ok(password, `the first start prints the generated admin password:\n${first.log}`);
      assert.equal(password, password.trim());
      await withAdmin(first, password, (c) =>
        c.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')"),
      );
      assert.equal(await first.stop('SIGTERM'), 0, first.log);

      const second = await PosternProcess.start({
        workDir,
        env: { POSTERN_ADMIN_PASSWORD: undefined },
      });
      try {
        const { rows } = await withAdmin(second, password, (c) => c.query('SELECT v FROM kept'));
        assert.deepEqual(rows, [{ v: 'survives' }]);
        assert.doesNotMatch(second.log, /created with this password/);
      } finally {
        assert.equal(await second.stop('SIGINT'), 0, second.log);
      }
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
