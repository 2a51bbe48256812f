import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PosternProcess } from '../support/postern-process';

describe('lifecycle', () => {
  test('OPS-08a Ctrl+C to the whole process group lets a running query finish, then ends the session with 57P01 and exits 0', async () => {
    // As a terminal runs it: the gateway leads a process group, and Ctrl+C signals the group.
    const postern = await PosternProcess.start({
      detached: true,
      env: { POSTERN_SHUTDOWN_GRACE: '20s' },
    });
    try {
      const client = await postern.connect();
      const ended = new Promise<Error>((resolve) => client.once('error', resolve));
      const running = client.query('SELECT pg_sleep(2) AS slept');
      // The query is running upstream before the signal.
      await new Promise((resolve) => setTimeout(resolve, 500));
      postern.signalGroup('SIGINT');
      const { rows } = await running;
      assert.deepEqual(rows, [{ slept: '' }], 'the running query finished');
      const error = (await ended) as Error & { code?: string };
      assert.equal(error.code, '57P01', postern.log);
      assert.equal(await postern.exitCode, 0, postern.log);
    } finally {
      await postern.dispose();
    }
  });

  test('OPS-08b a second gateway on the same data directory stops with one clear line, and the first keeps serving', async () => {
    const first = await PosternProcess.start();
    try {
      const second = await PosternProcess.start({ workDir: first.workDir, noWait: true });
      const status = await second.exitCode;
      assert.equal(status, 3, second.log);
      assert.match(
        second.log,
        new RegExp(
          `^postern: another Postern \\(pid ${first.pid}\\) is running on the data directory `,
          'm',
        ),
      );
      assert.doesNotMatch(second.log, /TypeError|at .*\.js:\d+/);
      const response = await fetch(`http://127.0.0.1:${first.httpPort}/readyz`);
      assert.equal(response.status, 200);
      const client = await first.connect();
      assert.deepEqual((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
      await client.end();
    } finally {
      await first.dispose();
    }
  });
});
