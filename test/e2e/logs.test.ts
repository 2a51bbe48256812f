import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminHttp } from '../support/admin-http';
import { CLI } from '../support/cli';
import { psql, run } from '../support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';

/** A secret that appears nowhere unless it leaked: unique per run. */
const secret = (label: string) => `${label}-${randomBytes(9).toString('base64url')}`;

/**
 * Checks a gateway's whole output: each line a JSON object with level, time, context and
 * message, except the banner (one block of plain text, printed once at start).
 */
function assertJsonLines(output: string): Array<Record<string, unknown>> {
  const lines = output.split('\n').filter((line) => line !== '');
  const entries: Array<Record<string, unknown>> = [];
  const plain: number[] = [];
  lines.forEach((line, index) => {
    if (!line.startsWith('{')) {
      plain.push(index);
      return;
    }
    const entry = JSON.parse(line) as Record<string, unknown>;
    assert.ok(['error', 'warn', 'info', 'debug'].includes(entry.level as string), line);
    assert.equal(typeof entry.time, 'string', line);
    assert.equal(typeof entry.msg, 'string', line);
    assert.equal(typeof entry.context, 'string', line);
    entries.push(entry);
  });
  // The banner: one contiguous block.
  assert.ok(plain.length > 0 && plain.at(-1)! - plain[0]! === plain.length - 1, output);
  assert.match(lines[plain[0]!]!, /Postern is ready/);
  assert.ok(!output.includes('\x1b'), 'an ANSI escape in the log');
  return entries;
}

function assertNoSecret(output: string, secrets: Readonly<Record<string, string>>): void {
  for (const [what, value] of Object.entries(secrets)) {
    assert.ok(!output.includes(value), `the ${what} appears in the log`);
  }
}

describe('structured logs (Operating Postern, part 2)', () => {
  let scram: PosternProcess;
  let cleartext: PosternProcess;
  let home: string;
  const debug = { POSTERN_LOG_LEVEL: 'debug' };

  before(async () => {
    [scram, cleartext] = await Promise.all([
      PosternProcess.start({ env: debug }),
      PosternProcess.start({ env: { ...debug, POSTERN_AUTH_CLEARTEXT: 'on' } }),
    ]);
    home = await mkdtemp(path.join(tmpdir(), 'postern-logs-cli-'));
  });
  after(async () => {
    await Promise.all([scram?.dispose(), cleartext?.dispose()]);
    await rm(home, { recursive: true, force: true });
  });

  /** Logs in through every path with `postern`'s passwords and tokens; returns them all. */
  async function exercise(postern: PosternProcess): Promise<Record<string, string>> {
    const http = AdminHttp.of(postern);
    const secrets: Record<string, string> = {
      'admin password': ADMIN_PASSWORD,
      'first password': secret('first-password'),
      password: secret('user-password'),
      'wrong password': secret('wrong-password'),
      'made-up token': `pst_AAAAAAAAAAAA_${randomBytes(24).toString('hex').slice(0, 32)}`,
    };
    const admin = await http.session();
    secrets['admin session'] = admin.token;
    const created = await admin.request('POST', '/entities', {
      kind: 'user',
      slug: 'logger',
      password: secrets['first password'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const changed = await admin.request('PUT', '/entities/logger/password', {
      password: secrets.password,
    });
    assert.equal(changed.status, 204, JSON.stringify(changed.body));
    const database = await admin.request('POST', '/databases', { owner: 'logger', name: 'notes' });
    assert.equal(database.status, 201, JSON.stringify(database.body));
    const { token } = await admin.createToken('logger', { name: 'logs' });
    secrets['API token'] = token;
    secrets["API token's secret part"] = token.split('_')[2]!;

    // HTTP: password login, failed login, bearer session, bearer API token, cookie, made-up token.
    const login = await http.call<{ token: string }>('POST', '/auth/login', {
      body: { username: 'logger', password: secrets.password },
    });
    assert.equal(login.status, 200);
    secrets['user session'] = login.body.token;
    const failed = await http.call('POST', '/auth/login', {
      body: { username: 'logger', password: secrets['wrong password'] },
    });
    assert.equal(failed.status, 401);
    assert.equal((await http.call('GET', '/entities', { token: login.body.token })).status, 200);
    const query = await http.call('POST', '/databases/logger/notes/query', {
      token,
      body: { sql: 'SELECT 1' },
    });
    assert.equal(query.status, 200, JSON.stringify(query.body));
    const cookie = await http.call('GET', '/entities', {
      headers: { cookie: `postern_session=${login.body.token}` },
    });
    assert.equal(cookie.status, 200);
    assert.equal(
      (await http.call('GET', '/entities', { token: secrets['made-up token'] })).status,
      401,
    );

    // Wire: password, token, wrong password (SCRAM or cleartext, as the gateway asks); psql.
    for (const password of [secrets.password, token]) {
      await (await postern.connect({ user: 'logger', password, database: 'logger/notes' })).end();
    }
    await assert.rejects(
      postern.connect({
        user: 'logger',
        password: secrets['wrong password'],
        database: 'logger/notes',
      }),
      { code: '28P01' },
    );
    const viaPsql = await psql(
      postern.conninfo('logger', 'logger/notes'),
      secrets.password,
      'SELECT 1;',
    );
    assert.equal(viaPsql.code, 0, viaPsql.stderr);

    // The CLI's login (password on stdin) and a call with the session it stored.
    const cliEnv = { POSTERN_URL: `http://127.0.0.1:${postern.httpPort}`, XDG_CONFIG_HOME: home };
    const cliLogin = await run(process.execPath, [CLI, 'login', '--user', 'logger'], {
      env: { ...cliEnv, POSTERN_TOKEN: '' },
      input: `${secrets.password}\n`,
    });
    assert.equal(cliLogin.code, 0, cliLogin.stderr);
    const cliList = await run(process.execPath, [CLI, 'databases', 'list'], {
      env: { ...cliEnv, POSTERN_TOKEN: '' },
    });
    assert.equal(cliList.code, 0, cliList.stderr);
    return secrets;
  }

  test('OBS-10 no password or token reaches the log, at debug level, through any login path (SCRAM)', async () => {
    const secrets = await exercise(scram);
    assert.equal(await scram.stop(), 0);
    assertNoSecret(scram.log, secrets);
    const entries = assertJsonLines(scram.log);
    // What the log does say: the failed wire login, by name, without the password.
    assert.ok(
      entries.some(
        (e) => e.context === 'Login' && /login failed for "logger"/.test(e.msg as string),
      ),
    );
  });

  test('OBS-11 no password or token reaches the log with cleartext wire logins', async () => {
    const secrets = await exercise(cleartext);
    assert.equal(await cleartext.stop(), 0);
    assertNoSecret(cleartext.log, secrets);
    assertJsonLines(cleartext.log);
  });

  test('OBS-12 HTTP request lines: method, route, path, status and duration, never headers or bodies', async () => {
    const entries = assertJsonLines(scram.log).filter((e) => e.event === 'http.request');
    const login = entries.find((e) => e.route === '/api/v1/auth/login' && e.status === 200);
    assert.ok(login, 'the login request is logged');
    assert.equal(login.method, 'POST');
    assert.equal(login.level, 'info');
    assert.equal(typeof login.durationMs, 'number');
    const refused = entries.find((e) => e.path === '/api/v1/entities' && e.status === 401);
    assert.ok(refused, 'the made-up token request is logged');
    for (const entry of entries) {
      const keys = Object.keys(entry).sort();
      assert.deepEqual(keys, [
        'client',
        'context',
        'durationMs',
        'event',
        'level',
        'method',
        'msg',
        'path',
        'pid',
        'route',
        'status',
        'time',
      ]);
    }
    const logLines = scram.log.split('\n').filter((line) => line.startsWith('{'));
    assert.deepEqual(
      logLines.filter((line) => /authorization|cookie|bearer/i.test(line)),
      [],
      'a header reached the log',
    );
  });
});
