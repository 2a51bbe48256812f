import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { AdminHttp } from '../support/admin-http';
import { CLI } from '../support/cli';
import { run } from '../support/clients';
import { PosternProcess } from '../support/postern-process';

/** The README's CLI examples, run with bash as written; only `npx postern` becomes the built CLI. */
describe('README: the postern command line examples', () => {
  test('CLI-11 every example does what its comment says', async () => {
    const readme = await readFile(path.resolve(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf('<!-- tested by test/e2e/readme-cli.test.ts -->');
    assert.ok(start >= 0, 'the README marks its tested CLI block');
    const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))![1]!;
    const postern = await PosternProcess.start();
    try {
      const admin = await AdminHttp.of(postern).login();
      const prelude = `npx() { shift; node ${JSON.stringify(CLI)} "$@"; echo "exit $?"; }\n`;
      const result = await run('bash', ['-c', prelude + block], {
        env: { POSTERN_URL: `http://127.0.0.1:${postern.httpPort}`, POSTERN_TOKEN: admin },
      });
      assert.equal(result.code, 0, result.stderr);
      const exits = [...result.stdout.matchAll(/^exit (\d+)$/gm)].map((m) => Number(m[1]));
      // Every command succeeds but the refused delete (the tenth).
      assert.deepEqual(exits, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
      assert.match(
        result.stderr,
        /^postern: "acme" owns 1 database\(s\) \(books\); .* \(HTTP 409\)$/m,
      );
      assert.match(
        result.stdout,
        /\d+\s+\S+\s+entity\.delete\s+success\s+admin\s+-\s+\{"entity":"acme".*"reassignedTo":"alice"/,
      );
      const http = AdminHttp.of(postern);
      const books = await http.call('GET', '/databases/alice/books', { token: admin });
      assert.equal(books.status, 200, JSON.stringify(books.body));
    } finally {
      await postern.dispose();
    }
  });
});
