import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findFreePort } from '#engine';
import { AdminHttp, assertError } from '../support/admin-http';
import { CLI } from '../support/cli';
import { run, type ProcessResult } from '../support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';

/**
 * The `postern` command line (dist/apps/cli/src/main.js) as a child
 * process against the real gateway: every command, tables and --json,
 * errors as one line with a non-zero status, the stored login, and the
 * offline password reset on a stopped gateway's data directory.
 */
describe('the postern CLI', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let home: string;

  before(async () => {
    postern = await PosternProcess.start();
    http = AdminHttp.of(postern);
    home = await mkdtemp(path.join(tmpdir(), 'postern-cli-home-'));
  });

  after(async () => {
    await postern?.dispose();
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** Runs `postern ...args` with its own config dir; `token` as POSTERN_TOKEN unless null. */
  function cli(
    args: readonly string[],
    options: { token?: string | null; input?: string; env?: Record<string, string> } = {},
  ): Promise<ProcessResult> {
    const env: Record<string, string> = {
      POSTERN_URL: `http://127.0.0.1:${postern.httpPort}`,
      XDG_CONFIG_HOME: home,
      POSTERN_TOKEN: options.token ?? '',
      ...options.env,
    };
    return run(process.execPath, [CLI, ...args], { env, input: options.input });
  }

  /** `postern --json ...` that must succeed; its parsed output. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function json(args: readonly string[], token: string | null, input?: string): Promise<any> {
    const result = await cli(['--json', ...args], { token, input });
    assert.equal(result.code, 0, `postern ${args.join(' ')}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  }

  /** A command that must fail with exactly one line on stderr. */
  async function fails(args: readonly string[], token: string | null, message: RegExp) {
    const result = await cli(args, { token });
    assert.notEqual(result.code, 0, result.stdout);
    assert.equal(result.stdout, '');
    assert.match(result.stderr.trimEnd(), message);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }

  test('CLI-01 --help lists every command group', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    // The bin runs on its own (shebang, executable), as npx postern and npm's bin links run it.
    const direct = await run(CLI, ['--help']);
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(direct.stdout, help.stdout);
    for (const command of ['start', 'config', 'login', 'logout', 'users', 'orgs', 'members']) {
      assert.match(help.stdout, new RegExp(`\\n  ${command}\\b`));
    }
    for (const command of ['databases', 'grants', 'tokens', 'sessions', 'audit', 'admin']) {
      assert.match(help.stdout, new RegExp(`\\n  ${command}\\b`));
    }
  });

  test('CLI-02 login reads the password from stdin and keeps the session in a 0600 file; logout ends it on the server', async () => {
    await fails(['users', 'list'], null, /^postern: not logged in to http:\/\/127\.0\.0\.1:\d+/);
    const bad = await cli(['login'], { token: null, input: 'wrong-password\n' });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'postern: invalid username or password (HTTP 401)\n');

    const login = await cli(['login', '--user', 'admin'], {
      token: null,
      input: `${ADMIN_PASSWORD}\n`,
    });
    assert.equal(login.code, 0, login.stderr);
    const file = path.join(home, 'postern', 'sessions.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    const token = stored[`http://127.0.0.1:${postern.httpPort}`].token as string;
    assert.match(token, /^pss_/);
    assert.ok(!login.stdout.includes(ADMIN_PASSWORD) && !login.stdout.includes(token));

    const list = await cli(['users', 'list'], { token: null });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^SLUG\s+KIND\s+SITEADMIN\s+DISABLED\s+CREATED\n/);
    assert.match(list.stdout, /\nadmin\s+user\s+true\s+false\s+\d{4}-/);

    const logout = await cli(['logout'], { token: null });
    assert.equal(logout.code, 0, logout.stderr);
    assert.equal(existsSync(file), false);
    assertError(await http.call('GET', '/entities', { token }), 401);
    await fails(['users', 'list'], null, /not logged in/);
  });

  test('CLI-03 users and organisations: create, list, set-password, disable, enable, delete', async () => {
    const admin = await http.login();
    const alice = await json(['users', 'create', 'alice'], admin, 'alice-password\n');
    assert.equal(alice.slug, 'alice');
    assert.equal(alice.kind, 'user');
    const robot = await json(['users', 'create', 'robot', '--no-password'], admin);
    assert.equal(robot.slug, 'robot');
    await fails(
      ['users', 'create', 'alice', '--no-password'],
      admin,
      /already taken \(HTTP 409\)$/,
    );

    const users = await json(['users', 'list'], admin);
    assert.deepEqual(
      users.map((u: { slug: string }) => u.slug),
      ['admin', 'alice', 'robot'],
    );
    const org = await json(['orgs', 'create', 'acme'], await http.login('alice', 'alice-password'));
    assert.equal(org.kind, 'organization');
    const orgs = await json(['orgs', 'list'], admin);
    assert.deepEqual(
      orgs.map((o: { slug: string }) => o.slug),
      ['acme'],
    );

    const changed = await cli(['users', 'set-password', 'alice'], {
      token: admin,
      input: 'alice-new-password\n',
    });
    assert.equal(changed.code, 0, changed.stderr);
    await http.login('alice', 'alice-new-password');

    assert.equal((await json(['users', 'disable', 'alice'], admin)).disabled, true);
    assertError(
      await http.call('POST', '/auth/login', {
        body: { username: 'alice', password: 'alice-new-password' },
      }),
      401,
    );
    const table = await cli(['users', 'enable', 'alice'], { token: admin });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^disabled\s+false$/m);
    await http.login('alice', 'alice-new-password');

    assert.equal((await json(['orgs', 'disable', 'acme'], admin)).disabled, true);
    assert.equal((await json(['orgs', 'enable', 'acme'], admin)).disabled, false);
    await fails(
      ['users', 'disable', 'admin'],
      admin,
      /last enabled site admin and cannot be disabled \(HTTP 409\)$/,
    );
    assert.deepEqual(await json(['users', 'delete', 'robot'], admin), {
      ok: true,
      deleted: 'robot',
    });
  });

  test('CLI-04 memberships, databases and grants; CLI-12 database limits and pool mode', async () => {
    const alice = await http.login('alice', 'alice-new-password');
    await json(['users', 'create', 'bob'], await http.login(), 'bob-password\n');
    assert.deepEqual(await json(['members', 'add', 'acme', 'bob', '--role', 'admin'], alice), {
      organization: 'acme',
      user: 'bob',
      role: 'admin',
    });
    const members = await cli(['members', 'list', 'acme'], { token: alice });
    assert.equal(members.stdout, 'USER   ROLE\nalice  admin\nbob    admin\n');
    assert.equal((await cli(['members', 'remove', 'acme', 'bob'], { token: alice })).code, 0);
    assert.deepEqual(await json(['members', 'list', 'acme'], alice), [
      { user: 'alice', role: 'admin' },
    ]);

    const created = await json(['databases', 'create', 'acme/books'], alice);
    assert.equal(created.owner, 'acme');
    assert.equal(created.name, 'books');
    const list = await cli(['databases', 'list'], { token: alice });
    assert.match(list.stdout, /^DATABASE\s+LEVEL\s+LIMITS\nacme\/books\s+owner\s+-\n$/);
    assert.equal((await json(['databases', 'show', 'acme/books'], alice)).level, 'owner');

    assert.deepEqual(await json(['grants', 'set', 'acme/books', 'bob', 'read-only'], alice), {
      entity: 'bob',
      level: 'read-only',
    });
    await fails(
      ['grants', 'set', 'acme/books', 'bob', 'owner'],
      alice,
      /one of read-only, read-write, manager/,
    );
    assert.deepEqual(await json(['grants', 'list', 'acme/books'], alice), [
      { entity: 'bob', level: 'read-only' },
    ]);
    assert.equal((await cli(['grants', 'remove', 'acme/books', 'bob'], { token: alice })).code, 0);
    assert.deepEqual(await json(['grants', 'list', 'acme/books'], alice), []);

    // Limits and the pool mode: shown, changed one by one (the others stay), reset to the default.
    assert.match(
      (await cli(['databases', 'limits', 'acme/books'], { token: alice })).stdout,
      /no limits of its own/,
    );
    assert.deepEqual(
      await json(
        [
          'databases',
          'limits',
          'acme/books',
          '--pool-mode',
          'transaction',
          '--statement-timeout',
          '30s',
        ],
        alice,
      ),
      { poolMode: 'transaction', statementTimeoutMs: 30000 },
    );
    assert.deepEqual(
      await json(['databases', 'limits', 'acme/books', '--max-result-rows', 'off'], alice),
      { poolMode: 'transaction', statementTimeoutMs: 30000, maxResultRows: 0 },
    );
    const shown = await cli(['databases', 'limits', 'acme/books'], { token: alice });
    assert.match(shown.stdout, /^poolMode\s+transaction$/m);
    assert.deepEqual(
      await json(
        [
          'databases',
          'limits',
          'acme/books',
          '--pool-mode',
          'default',
          '--statement-timeout',
          'default',
        ],
        alice,
      ),
      { maxResultRows: 0 },
    );
    await fails(
      ['databases', 'limits', 'acme/books', '--pool-mode', 'statement'],
      alice,
      /session, transaction or default/,
    );
    await fails(
      ['databases', 'limits', 'acme/books', '--statement-timeout', 'soon'],
      alice,
      /a duration \(250ms, 30s, 5m, 1h\), off or default/,
    );

    await json(['databases', 'create', 'alice/scratch'], alice);
    assert.deepEqual(await json(['databases', 'delete', 'alice/scratch'], alice), {
      ok: true,
      deleted: 'alice/scratch',
    });
    await fails(['databases', 'show', 'alice/scratch'], alice, /not found \(HTTP 404\)$/);
  });

  test('CLI-05 tokens: create with scope and expiry, list, revoke; a scoped token gets only what the API allows', async () => {
    const alice = await http.login('alice', 'alice-new-password');
    const created = await json(
      [
        'tokens',
        'create',
        'alice',
        '--name',
        'reports',
        '--database',
        'acme/books',
        '--max-level',
        'read-only',
        '--expires',
        '2d',
      ],
      alice,
    );
    assert.match(created.token, /^pst_/);
    assert.deepEqual(created.databases, ['acme/books']);
    assert.equal(created.maxLevel, 'read-only');
    const days = (Date.parse(created.expiresAt) - Date.now()) / 86_400_000;
    assert.ok(days > 1.9 && days <= 2, `expires in ${days} days`);

    const tokens = await cli(['tokens', 'list', 'alice'], { token: alice });
    assert.match(
      tokens.stdout,
      new RegExp(`^${created.id}\\s+reports\\s+acme/books\\s+read-only\\s`, 'm'),
    );
    assert.ok(!tokens.stdout.includes(created.token));

    // The CLI goes through the API's rules: a scoped token manages nobody.
    await fails(['users', 'list'], created.token, /limited to databases.*\(HTTP 403\)$/);
    const client = await postern.connect({
      user: 'alice',
      password: created.token,
      database: 'acme/books',
    });
    // Read-only is PostgreSQL's own answer (the reader role).
    await assert.rejects(client.query('CREATE TABLE t (x int)'), { code: /^(25006|42501)$/ });
    await client.end();

    assert.deepEqual(await json(['tokens', 'revoke', created.id], alice), {
      ok: true,
      revoked: created.id,
    });
    const revoked = await json(['tokens', 'list', 'alice'], alice);
    assert.notEqual(revoked[0].revokedAt, null);
    await fails(['databases', 'list'], created.token, /\(HTTP 401\)$/);
    await fails(
      ['tokens', 'create', 'alice', '--name', 'x', '--expires', 'soon'],
      alice,
      /ISO 8601/,
    );
  });

  test('CLI-06 sessions: list and kill (node-postgres gets 57P01)', async () => {
    const admin = await http.login();
    const client = await postern.connect({ application_name: 'cli-victim' });
    const listed = await json(['sessions', 'list', '--user', 'admin'], admin);
    const victim = listed.find(
      (s: { applicationName: string }) => s.applicationName === 'cli-victim',
    );
    assert.ok(victim, JSON.stringify(listed));
    const table = await cli(['sessions', 'list', '--database', 'admin/main'], { token: admin });
    assert.match(
      table.stdout,
      new RegExp(
        `^${victim.id}\\s+admin\\s+admin/main\\s+owner\\s+127\\.0\\.0\\.1\\s+idle\\s`,
        'm',
      ),
    );

    const ended = new Promise<string | undefined>((resolve) =>
      client.once('error', (err: Error & { code?: string }) => resolve(err.code)),
    );
    const killed = await cli(['sessions', 'kill', String(victim.id)], { token: admin });
    assert.equal(killed.code, 0, killed.stderr);
    assert.equal(killed.stdout, `session ${victim.id} ended\n`);
    assert.equal(await ended, '57P01');
    await fails(['sessions', 'kill', String(victim.id)], admin, /not found \(HTTP 404\)$/);
  });

  test('AUDIT-12 audit tail shows a wire statement as its text, rows and time', async () => {
    const admin = await http.login();
    const client = await postern.connect();
    await client.query('SELECT g FROM generate_series(1, 4) g /* audit-12 */');
    await client.end();
    const deadline = Date.now() + 15_000;
    let shown = '';
    while (!shown.includes('audit-12') && Date.now() < deadline) {
      shown = (await cli(['audit', 'tail', '-n', '5', '--kind', 'wire.query'], { token: admin }))
        .stdout;
    }
    assert.match(
      shown,
      /wire\.query\s+success\s+admin\s+admin\/main\s+SELECT g FROM generate_series\(1, 4\) g \/\* audit-12 \*\/ \[rows 4, [\d.]+ ms\]\n/,
    );
  });

  test('CLI-07 audit: tail, filter with paging, and --follow printing new events', async () => {
    const admin = await http.login();
    const tail = await json(['audit', 'tail', '-n', '3', '--kind', 'session.kill'], admin);
    assert.equal(tail.length, 1);
    assert.equal(tail[0].kind, 'session.kill');
    const deletes = await cli(['audit', 'tail', '--kind', 'entity.delete'], { token: admin });
    assert.match(
      deletes.stdout,
      /^ID\s+AT\s+KIND\s+OUTCOME\s+ACTOR\s+DATABASE\s+DETAIL\n\d+\s+\S+\s+entity\.delete\s+success\s+admin\s+-\s+\{"entity":"robot"/,
    );

    const first = await cli(['audit', 'filter', '--entity', 'alice', '--limit', '2'], {
      token: admin,
    });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim().split('\n').length, 3);
    const cursor = /^more: --before (\d+)\n$/.exec(first.stderr)?.[1];
    assert.ok(cursor, first.stderr);
    const next = await json(
      ['audit', 'filter', '--entity', 'alice', '--limit', '2', '--before', cursor],
      admin,
    );
    assert.ok(next.events.every((e: { id: string }) => BigInt(e.id) < BigInt(cursor)));
    await fails(
      ['audit', 'filter', '--since', 'yesterday'],
      admin,
      /"since" must be an ISO 8601 timestamp such as \S+ \(HTTP 400\)$/,
    );

    const follow = spawn(
      process.execPath,
      [CLI, '--json', 'audit', 'tail', '-n', '1', '--follow', '--kind', 'entity.create'],
      {
        env: {
          ...process.env,
          POSTERN_URL: `http://127.0.0.1:${postern.httpPort}`,
          POSTERN_TOKEN: admin,
        },
      },
    );
    let printed = '';
    const sawNew = new Promise<void>((resolve) =>
      follow.stdout.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
        if (printed.includes('"followed"')) resolve();
      }),
    );
    try {
      await waitFor('the first page', async () =>
        printed.includes('entity.create') ? true : undefined,
      );
      await http.call('POST', '/entities', {
        token: admin,
        body: { kind: 'organization', slug: 'followed' },
      });
      await sawNew;
      // NDJSON: one event a line, the first page included.
      const followed = printed
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      assert.ok(followed.length >= 2);
      assert.ok(followed.every((e: { kind: string }) => e.kind === 'entity.create'));
      assert.equal(followed.at(-1).detail.entity, 'followed');
    } finally {
      follow.kill();
    }
  });

  test('CLI-08 errors are one line with a non-zero status', async () => {
    const admin = await http.login();
    await fails(
      ['users', 'delete', 'nobody'],
      admin,
      /^postern: entity "nobody" not found \(HTTP 404\)$/,
    );
    await fails(['databases', 'show', 'no-slash'], admin, /is not a database reference/);
    const closed = `http://127.0.0.1:${await findFreePort()}`;
    const unreachable = await cli(['users', 'list'], {
      token: admin,
      env: { POSTERN_URL: closed },
    });
    assert.equal(unreachable.code, 1);
    assert.equal(unreachable.stderr, `postern: cannot reach ${closed}: ECONNREFUSED\n`);
    const usage = await cli(['tokens', 'create', 'alice'], { token: admin });
    assert.notEqual(usage.code, 0);
    assert.equal(usage.stderr, "postern: required option '--name <name>' not specified\n");
  });

  test('CLI-09 config prints the effective settings with every secret masked', async () => {
    const result = await cli(['config'], {
      env: {
        POSTERN_ADMIN_PASSWORD: 'very-secret-admin',
        POSTERN_UPSTREAM_URL:
          'postgresql://boss:upstream-secret@db.example:5432/postgres?sslmode=require',
        POSTERN_PORT: '6543',
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /very-secret-admin|upstream-secret/);
    assert.match(result.stdout, /^adminPassword\s+\*{8}$/m);
    assert.match(
      result.stdout,
      /^upstreamUrl\s+postgresql:\/\/boss:\*{8}@db\.example:5432\/postgres\?sslmode=require$/m,
    );
    assert.match(result.stdout, /^port\s+6543$/m);
    const bad = await cli(['config'], { env: { POSTERN_PORT: 'many' } });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'postern: POSTERN_PORT must be a port number between 0 and 65535\n');
  });

  test('CLI-10 admin reset-password refuses while the gateway runs, then works offline on its data directory', async () => {
    const dataDir = path.join(postern.workDir, 'data');
    const refused = await cli(['admin', 'reset-password', '--data-dir', dataDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^postern: a gateway is running on .*; stop it first/);
    await http.login(); // unchanged

    assert.equal(await postern.stop(), 0);
    const generated = await cli(['admin', 'reset-password', '--data-dir', dataDir]);
    assert.equal(generated.code, 0, generated.stderr);
    const password = /^ {2}(\S+)$/m.exec(generated.stdout)?.[1];
    assert.ok(password && password.length >= 20, generated.stdout);
    const viaStdin = await cli(
      ['admin', 'reset-password', '--data-dir', dataDir, '--user', 'alice', '--stdin'],
      {
        input: 'alice-offline-password\n',
      },
    );
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    assert.ok(!viaStdin.stdout.includes('alice-offline-password'));
    await fails(
      ['admin', 'reset-password', '--data-dir', dataDir, '--user', 'acme'],
      null,
      /"acme" is not a user/,
    );
    await fails(
      ['admin', 'reset-password', '--data-dir', home],
      null,
      /is not a Postern data directory/,
    );

    postern = await PosternProcess.start({ workDir: postern.workDir });
    http = AdminHttp.of(postern);
    assertError(
      await http.call('POST', '/auth/login', {
        body: { username: 'admin', password: ADMIN_PASSWORD },
      }),
      401,
    );
    const admin = await http.login('admin', password);
    await http.login('alice', 'alice-offline-password');
    const wire = await postern.connect({ password });
    await wire.end();
    const events = await http.call('GET', '/audit?kind=password.reset', { token: admin });
    assert.deepEqual(
      events.body.events.map((e: { detail: { entity: string }; method: string }) => [
        e.detail.entity,
        e.method,
      ]),
      [
        ['alice', 'offline'],
        ['admin', 'offline'],
      ],
    );
  });
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
