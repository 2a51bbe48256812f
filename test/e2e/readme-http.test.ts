import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminHttp } from '../support/admin-http';
import { psql, run } from '../support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';

const README = path.resolve(__dirname, '..', '..', '..', 'README.md');
const MARKER = '<!-- tested by test/e2e/readme-http.test.ts -->';
const hasCurl = spawnSync('curl', ['--version']).status === 0;

/**
 * The README's "SQL over HTTP, sessions and audit" examples, run as written
 * with bash and the curl binary against a real gateway: only the port and the
 * admin password placeholder are substituted.
 */
describe(
  'README: SQL over HTTP, sessions and audit examples',
  { skip: !hasCurl && 'curl is not installed' },
  () => {
    let postern: PosternProcess;
    let script: string;

    before(async () => {
      postern = await PosternProcess.start();
      const readme = await readFile(README, 'utf8');
      const start = readme.indexOf(MARKER);
      assert.ok(start >= 0, 'the README marks its tested example block');
      const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))![1]!;
      assert.ok(block.includes('http://localhost:8433/api/v1'));
      assert.ok(block.includes('<admin password>'));
      script = block
        .replaceAll('http://localhost:8433', `http://localhost:${postern.httpPort}`)
        .replaceAll('<admin password>', ADMIN_PASSWORD);
    });
    after(() => postern.dispose());

    test('every call answers as the comments say', async () => {
      // A wire session for the examples to list and end.
      const sleeper = psql(
        postern.conninfo('admin', 'admin/main', 'sslmode=verify-full application_name=readme-psql'),
        ADMIN_PASSWORD,
        '\\set VERBOSITY verbose\nSELECT pg_sleep(60);\n',
      );
      const http = AdminHttp.of(postern);
      const admin = await http.login();
      const deadline = Date.now() + 15_000;
      while ((await http.call('GET', '/sessions', { token: admin })).body.length === 0) {
        assert.ok(Date.now() < deadline, 'the psql session never showed up');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      // Each curl answer on a line of its own, so that the output can be read back;
      // the calls themselves are the README's.
      const prelude = 'curl() { command curl "$@"; echo; }\n';
      const result = await run('bash', ['-euo', 'pipefail', '-c', prelude + script], {
        timeoutMs: 120_000,
      });
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.split('\n').filter((line) => line.trim() !== '');
      const json = lines.map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return line;
        }
      });
      const find = (predicate: (value: Record<string, unknown>) => boolean) =>
        json.find((v) => typeof v === 'object' && v !== null && predicate(v)) as
          Record<string, unknown> | undefined;

      assert.ok(
        find((v) => v.owner === 'admin' && v.name === 'shop'),
        'database created',
      );
      const transaction = find((v) => Array.isArray(v.results));
      assert.deepEqual(
        (transaction!.results as Array<{ command: string; rowCount: number | null }>).map((r) => [
          r.command,
          r.rowCount,
        ]),
        [
          ['CREATE', null],
          ['INSERT', 2],
        ],
      );
      const select = find((v) => v.command === 'SELECT' && Array.isArray(v.rows));
      assert.deepEqual(select!.rows, [[1, 'pen', '1.5', ['office']]]);
      assert.ok(
        find((v) => v.command === 'SELECT' && v.rowCount === 100000),
        'NDJSON summary line',
      );
      const sessions = json.find(
        (v) =>
          Array.isArray(v) &&
          v.some((s: { applicationName?: string }) => s.applicationName === 'readme-psql'),
      );
      assert.ok(sessions, 'the session list shows the psql session');
      assert.ok(lines.includes('204'), 'the session was ended');
      const kills = find(
        (v) =>
          Array.isArray(v.events) &&
          (v.events as Array<{ kind: string }>).some((e) => e.kind === 'session.kill'),
      );
      assert.ok(kills, 'the audit log shows the kill');
      const shop = json
        .filter((v) => typeof v === 'object' && v !== null && 'events' in v)
        .at(-1) as {
        events: Array<{ kind: string; database: string }>;
      };
      assert.ok(
        shop.events.some((e) => e.kind === 'database.create' && e.database === 'admin/shop'),
      );
      assert.ok(shop.events.some((e) => e.kind === 'http.query'));

      const ended = await sleeper;
      assert.notEqual(ended.code, 0);
      assert.match(ended.stderr, /57P01/);
    });
  },
);
