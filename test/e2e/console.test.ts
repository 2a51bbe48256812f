import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { AdminHttp } from '../support/admin-http';
import { run, type ProcessResult } from '../support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import { launchBrowser, openConsole, screenshot, signIn } from './console-browser';

/**
 * The web console (issue 13) in Debian's chromium, driven by playwright-core, against the real
 * gateway: every action goes through the pages a person uses, and what it did is checked
 * with real clients (psql) and the API. Screenshots land in test-artifacts/console/.
 */
describe('web console', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let adminToken: string;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  let tokenSecret = '';

  before(async () => {
    postern = await PosternProcess.start();
    http = AdminHttp.of(postern);
    adminToken = await http.login();
    browser = await launchBrowser();
    ({ page, problems } = await openConsole(browser, postern));
  });

  after(async () => {
    await browser?.close();
    await postern?.stop();
  });

  const noProblems = () => assert.deepEqual(problems, [], 'no CSP violation, no page error');

  test('CONSOLE-01 the console is served at / with a strict CSP, no inline script, and never in place of the API', async () => {
    const root = await http.call('GET', '/', { absolute: true });
    assert.equal(root.status, 200);
    assert.match(root.headers.get('content-type') ?? '', /^text\/html/);
    const csp = root.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(root.headers.get('x-content-type-options'), 'nosniff');
    const html = root.body as string;
    for (const script of html.match(/<script\b[^>]*>[\s\S]*?<\/script>/gi) ?? []) {
      assert.match(script, /\bsrc="\/assets\/[^"]+\.js"/, 'scripts load from files');
      assert.match(script, /^<script\b[^>]*><\/script>$/, 'no inline code');
    }
    // Client routes answer the page (bookmarks, reloads) ...
    const deep = await http.call('GET', '/databases/admin/main', { absolute: true });
    assert.equal(deep.status, 200);
    assert.equal(deep.body, html);
    // ... the API, metrics and health never do, and unknown files stay 404.
    const api = await http.call('GET', '/api/v1/no-such-route', { absolute: true });
    assert.equal(api.status, 404);
    assert.equal((api.body as { statusCode: number }).statusCode, 404);
    const metrics = await http.call('GET', '/metrics', { absolute: true });
    assert.equal(metrics.status, 401);
    assert.deepEqual((await http.call('GET', '/healthz')).body, { status: 'ok' });
    assert.equal((await http.call('GET', '/no-such-file.js', { absolute: true })).status, 404);
    assert.equal((await http.call('GET', '/assets/missing.js', { absolute: true })).status, 404);
    // Hashed assets: the right type, cached for a year.
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await http.call('GET', script, { absolute: true });
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    assert.match(asset.headers.get('cache-control') ?? '', /max-age=31536000.*immutable/);
    assert.equal(root.headers.get('cache-control'), 'no-cache');
  });

  test('CONSOLE-02 sign-in by keyboard, a wrong password in words, the overview drawn from the server, sign-out', async () => {
    await page.goto('/');
    await page.waitForURL(/\/login\?next=/);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'invalid username or password' }).waitFor();
    await screenshot(page, 'login-failed');
    // Keyboard only: the user name has the focus, Tab to the password, Enter signs in.
    await page.reload();
    await page.getByLabel('User name').waitFor();
    assert.equal(await page.evaluate('document.activeElement.id'), 'username');
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    await page.keyboard.type(ADMIN_PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByTestId('whoami').waitFor();
    assert.equal(new URL(page.url()).pathname, '/overview');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByText('Live connections').waitFor();
    await page.locator('.chart canvas').first().waitFor();
    assert.equal(await page.locator('.chart').count(), 5);
    const overview = await http.call('GET', '/console/overview', { token: adminToken });
    assert.equal(overview.status, 200);
    assert.ok(overview.body.history.length >= 1, 'the overview has a series');
    assert.ok(overview.body.lastHour.logins >= 2, 'the logins of this test are counted');
    assert.ok(overview.body.lastHour.loginFailures >= 1, 'the wrong password is counted');
    await screenshot(page, 'overview');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByTestId('login-notice').filter({ hasText: 'You are signed out.' }).waitFor();
    assert.equal((await page.context().cookies()).length, 0, 'the session cookie is cleared');
    await signIn(page, 'admin', ADMIN_PASSWORD);
    noProblems();
  });

  test('CONSOLE-03 create a user, a database, a grant and a token; the secret once, with connection strings', async () => {
    await page.getByRole('link', { name: 'People' }).click();
    await page.getByRole('button', { name: 'New user' }).click();
    const newUser = page.getByRole('dialog', { name: 'New user' });
    await newUser.getByLabel('Name').fill('carol');
    await newUser.getByLabel('Password (8 characters or more)').fill('carol-password');
    await newUser.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('row').filter({ hasText: 'carol' }).waitFor();
    await page.getByLabel('Search').fill('car');
    assert.equal(await page.getByRole('row').count(), 2, 'the header and carol');
    await screenshot(page, 'people');

    await page.getByRole('link', { name: 'Databases' }).click();
    await page.getByRole('button', { name: 'New database' }).click();
    const newDb = page.getByRole('dialog', { name: 'New database' });
    await newDb.getByLabel('Name').fill('shop');
    await newDb.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/databases\/admin\/shop$/);
    await page.getByLabel('Grant to').fill('carol');
    await page.getByLabel('Level', { exact: true }).selectOption('read-write');
    await page.getByRole('button', { name: 'Grant', exact: true }).click();
    await page.getByRole('button', { name: 'Remove carol' }).waitFor();
    await page.getByLabel('Statement timeout (ms)').fill('60000');
    await page.getByLabel('Pool mode').selectOption('transaction');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Limits saved.').waitFor();
    await screenshot(page, 'database-detail');
    const grants = await http.call('GET', '/databases/admin/shop/grants', { token: adminToken });
    assert.deepEqual(grants.body, [{ entity: 'carol', level: 'read-write' }]);
    const limits = async () =>
      (await http.call('GET', '/databases/admin/shop', { token: adminToken })).body.limits;
    assert.deepEqual(await limits(), { statementTimeoutMs: 60000, poolMode: 'transaction' });
    // Saving other limits keeps the pool mode; back to session pooling for the pages below.
    await page.getByLabel('Pool mode').selectOption('');
    await page.getByLabel('Upstream assignment').selectOption('first-use');
    await page.getByLabel('Pool size (connections per level)').fill('3');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Limits saved.').waitFor();
    assert.deepEqual(await limits(), {
      statementTimeoutMs: 60000,
      upstreamAssignment: 'first-use',
      poolSize: 3,
    });
    // The pool size goes back with the other limits when one of them changes.
    await page.getByLabel('Upstream assignment').selectOption('');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Limits saved.').waitFor();
    assert.deepEqual(await limits(), { statementTimeoutMs: 60000, poolSize: 3 });
    await page.getByLabel('Pool size (connections per level)').fill('');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Limits saved.').waitFor();
    assert.deepEqual(await limits(), { statementTimeoutMs: 60000 });

    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByLabel('Tokens of').selectOption('carol');
    await page.getByRole('button', { name: 'New token' }).click();
    const newToken = page.getByRole('dialog', { name: 'New token for carol' });
    await newToken.getByLabel('Name').fill('reports');
    await newToken.getByRole('checkbox', { name: 'admin/shop' }).check();
    await newToken.getByLabel('Maximum level').selectOption('read-write');
    await newToken.getByLabel('Expires after').selectOption('30');
    await newToken.getByRole('button', { name: 'Create token' }).click();
    const created = page.getByRole('dialog', { name: 'Token created' });
    tokenSecret = await created.getByTestId('token-secret').inputValue();
    assert.match(tokenSecret, /^pst_/);
    const jdbc = await created.getByLabel('DBeaver / JDBC URL').inputValue();
    assert.match(
      jdbc,
      /^jdbc:postgresql:\/\/127\.0\.0\.1:\d+\/admin%2Fshop\?user=carol&password=pst_/,
    );
    const psqlLine = await created.getByLabel('psql', { exact: true }).inputValue();
    assert.match(
      psqlLine,
      /psql "host=127\.0\.0\.1 port=\d+ user=carol dbname=admin\/shop sslmode=verify-full/,
    );
    assert.match(await created.getByLabel('psycopg2').inputValue(), /dbname="admin\/shop"/);
    await created.getByRole('button', { name: 'Copy secret' }).click();
    await created.getByRole('button', { name: 'Copied', exact: true }).waitFor();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), tokenSecret);
    await screenshot(page, 'token-created');
    await created.getByRole('button', { name: 'I have copied it' }).click();
    const row = page.getByRole('row').filter({ hasText: 'reports' });
    await row.getByText('active').waitFor();
    assert.equal(await page.getByText(tokenSecret).count(), 0, 'the secret is gone');
    await screenshot(page, 'tokens');
    noProblems();
  });

  test('CONSOLE-04 a psql session on the token shows in the live list with its statement; kill gives psql 57P01', async () => {
    const conninfo =
      `host=localhost port=${postern.wirePort} user=carol dbname=admin/shop ` +
      `sslmode=verify-full sslrootcert=${postern.caFile} application_name=console-e2e`;
    const psqlRun: Promise<ProcessResult> = run(
      'psql',
      ['--no-psqlrc', '--set=ON_ERROR_STOP=1', '--set=VERBOSITY=verbose', conninfo],
      { env: { PGPASSWORD: tokenSecret }, input: 'SELECT pg_sleep(120);\n', timeoutMs: 60_000 },
    );
    await page.getByRole('link', { name: 'Live sessions' }).click();
    await page.getByLabel('User').fill('carol');
    const row = page.getByRole('row').filter({ hasText: 'SELECT pg_sleep(120)' });
    await row
      .getByText('active')
      .waitFor({ timeout: 20_000 })
      .catch(async (err: Error) => {
        throw new Error(
          `${err.message}\npsql: ${JSON.stringify(await Promise.race([psqlRun, 'running']))}`,
        );
      });
    await row.getByText('console-e2e').waitFor();
    await screenshot(page, 'sessions');
    await row.getByRole('button', { name: /^Kill / }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Kill session' }).click();
    const ended = await psqlRun;
    assert.notEqual(ended.code, 0);
    assert.match(ended.stderr, /57P01/, ended.stderr);
    await page.getByRole('status').filter({ hasText: 'of carol was ended' }).waitFor();
    await row.waitFor({ state: 'detached' });
    noProblems();
  });

  test('CONSOLE-05 the SQL runner: typed results with NULL, an error with SQLSTATE and position, the row-limit notice, cancel', async () => {
    await page.getByRole('link', { name: 'SQL' }).click();
    await page.getByRole('combobox', { name: 'Database' }).selectOption('admin/shop');
    const editor = page.getByLabel('Statement');
    const runSql = async (sql: string) => {
      await editor.fill(sql);
      await editor.press('Control+Enter');
    };
    await runSql('CREATE TABLE items (id int, name text, price numeric)');
    await page.getByTestId('sql-status').filter({ hasText: 'CREATE' }).waitFor();
    await runSql("INSERT INTO items VALUES (1, 'pen', 1.50), (2, NULL, NULL)");
    await page.getByTestId('sql-status').filter({ hasText: 'INSERT 2 rows' }).waitFor();
    await runSql('SELECT id, name, price FROM items ORDER BY id');
    const grid = page.getByTestId('sql-result');
    await grid.waitFor();
    const headers = await grid.locator('thead th').allInnerTexts();
    assert.deepEqual(
      headers.map((h) => h.replace(/\s+/g, ' ').trim()),
      ['#', 'id int4', 'name text', 'price numeric'],
    );
    assert.equal(await grid.locator('.null').count(), 2, 'NULLs shown as such');
    assert.equal(await grid.locator('tbody tr').first().locator('td').nth(3).innerText(), '1.50');
    await screenshot(page, 'sql-result');

    await runSql('SELECT id,\n  nosuch FROM items');
    const error = page.getByTestId('sql-error');
    await error.waitFor();
    assert.match(await error.innerText(), /ERROR 42703/);
    assert.match(await error.innerText(), /column "nosuch" does not exist/);
    assert.match(await error.innerText(), /line 2, column 3/);
    await screenshot(page, 'sql-error');

    await runSql('SELECT g FROM generate_series(1, 1500) g');
    await page
      .getByTestId('sql-row-limit')
      .filter({ hasText: 'first 1,000 of 1,500 rows' })
      .waitFor();
    assert.equal(await grid.locator('tbody tr').count(), 1000);

    // The database's own row limit (a guardrail) stops a statement: shown with its SQLSTATE.
    const limited = await http.call('PUT', '/databases/admin/shop/limits', {
      token: adminToken,
      body: { statementTimeoutMs: 60000, maxResultRows: 100 },
    });
    assert.equal(limited.status, 200);
    await runSql('SELECT g FROM generate_series(1, 500) g');
    await page
      .getByTestId('sql-late-error')
      .or(page.getByTestId('sql-error'))
      .filter({ hasText: '54000' })
      .waitFor();
    await screenshot(page, 'sql-guardrail');
    await http.call('PUT', '/databases/admin/shop/limits', {
      token: adminToken,
      body: { statementTimeoutMs: 60000 },
    });

    await runSql('SELECT pg_sleep(30)');
    await page.getByTestId('sql-status').filter({ hasText: 'Running' }).waitFor();
    await screenshot(page, 'sql-running');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByTestId('sql-status').filter({ hasText: 'Cancelled' }).waitFor();
    // The statement was stopped in PostgreSQL: its audit event says so (57014).
    const cancelled = await waitFor(async () => {
      const page = await http.call('GET', '/audit?kind=http.query&database=admin/shop', {
        token: adminToken,
      });
      return (page.body.events as { detail: Record<string, unknown> }[]).find(
        (e) => e.detail.statement === 'SELECT pg_sleep(30)',
      );
    });
    assert.equal(cancelled.detail.sqlstate, '57014');
    await runSql('SELECT 1 AS one');
    await page.getByTestId('sql-status').filter({ hasText: 'SELECT 1 row' }).waitFor();
    noProblems();
  });

  test('CONSOLE-06 the audit page shows all of that, filters by kind and opens an event', async () => {
    await page.getByRole('link', { name: 'Audit' }).click();
    const table = page.getByTestId('audit-table');
    for (const kind of [
      'http.login',
      'entity.create',
      'database.create',
      'grant.put',
      'database.limits',
      'token.create',
      'wire.login',
      'session.kill',
      'http.query',
    ]) {
      await table.getByRole('cell', { name: kind, exact: true }).first().waitFor();
    }
    await table
      .getByText('reason: invalid_password')
      .or(table.getByText(/reason: /))
      .first()
      .waitFor();
    await screenshot(page, 'audit');
    // Paging: more events than a page (50) of http.query, then back to the newest.
    for (let i = 0; i < 50; i++) {
      const answer = await http.call('POST', '/databases/admin/shop/query', {
        token: adminToken,
        body: { sql: `SELECT ${i} AS page_filler` },
      });
      assert.equal(answer.status, 200);
    }
    await page.getByRole('button', { name: 'Refresh' }).click();
    await table.getByText('SELECT 49 AS page_filler').waitFor();
    await page.getByRole('button', { name: 'Older' }).click();
    await page.waitForURL(/before=\d+/);
    await table.getByRole('cell', { name: 'database.create', exact: true }).waitFor();
    assert.equal(await table.getByText('SELECT 49 AS page_filler').count(), 0);
    await page.getByRole('button', { name: 'Newest' }).click();
    await table.getByText('SELECT 49 AS page_filler').waitFor();
    await page.getByLabel('Kind').fill('session.kill');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/kind=session\.kill/);
    await table.getByRole('cell', { name: 'http.query' }).first().waitFor({ state: 'detached' });
    const kinds = await table.locator('tbody td.mono').allInnerTexts();
    assert.ok(kinds.length >= 1 && kinds.every((k) => k === 'session.kill'), kinds.join());
    await table
      .getByRole('button', { name: /^Details/ })
      .first()
      .click();
    const detail = page.getByRole('dialog');
    await detail.getByText('admin/shop').waitFor();
    await detail.getByText('session.kill').waitFor();
    await screenshot(page, 'audit-detail');
    await detail.getByRole('button', { name: 'Close' }).click();
    noProblems();
  });

  test('CONSOLE-07 a read-only user sees no write action, and the API refuses them', async () => {
    const admin = { token: adminToken };
    await http.call('POST', '/entities', {
      ...admin,
      body: { kind: 'user', slug: 'rita', password: 'rita-password' },
    });
    await http.call('PUT', '/databases/admin/shop/grants/rita', {
      ...admin,
      body: { level: 'read-only' },
    });
    const rita = await openConsole(browser, postern);
    await signIn(rita.page, 'rita', 'rita-password');
    const p = rita.page;
    await p.waitForURL(/\/databases$/);
    assert.equal(await p.getByRole('link', { name: 'Overview' }).count(), 0);
    await p.getByRole('row').filter({ hasText: 'admin/shop' }).getByText('read-only').waitFor();
    await screenshot(p, 'readonly-databases');
    await p.getByRole('link', { name: 'admin/shop' }).click();
    await p.getByRole('heading', { name: 'Connect' }).waitFor();
    await p.getByRole('heading', { name: 'Limits' }).waitFor();
    for (const name of ['Delete database', 'Save limits', 'Grant']) {
      assert.equal(await p.getByRole('button', { name, exact: true }).count(), 0, name);
    }
    assert.equal(await p.getByRole('heading', { name: 'Access' }).count(), 0);
    await screenshot(p, 'readonly-database-detail');
    await p.getByRole('link', { name: 'People' }).click();
    await p.getByRole('row').filter({ hasText: 'rita' }).waitFor();
    assert.equal(await p.getByRole('button', { name: 'New user' }).count(), 0);
    await p.getByRole('link', { name: 'rita' }).click();
    await p.getByRole('button', { name: 'Set password' }).waitFor();
    for (const name of ['Disable', 'Delete']) {
      assert.equal(await p.getByRole('button', { name, exact: true }).count(), 0, name);
    }
    await screenshot(p, 'readonly-person');
    // Writes through the SQL runner reach PostgreSQL as the read-only role.
    await p.getByRole('link', { name: 'SQL' }).click();
    await p.getByRole('combobox', { name: 'Database' }).selectOption('admin/shop');
    await p.getByLabel('Statement').fill("INSERT INTO items VALUES (3, 'ink', 2)");
    await p.getByRole('button', { name: 'Run' }).click();
    await p
      .getByTestId('sql-error')
      .filter({ hasText: /ERROR 25006/ })
      .waitFor();
    await screenshot(p, 'readonly-sql-refused');
    // The API refuses what the pages do not offer, with her cookie, from the console's origin.
    const statuses = await p.evaluate(async () => {
      const call = async (method: string, path: string, body?: unknown) =>
        (
          await fetch(`/api/v1${path}`, {
            method,
            credentials: 'same-origin',
            headers: body === undefined ? {} : { 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          })
        ).status;
      return {
        deleteDatabase: await call('DELETE', '/databases/admin/shop'),
        grant: await call('PUT', '/databases/admin/shop/grants/rita', { level: 'manager' }),
        limits: await call('PUT', '/databases/admin/shop/limits', { maxConnections: 1 }),
        createUser: await call('POST', '/entities', { kind: 'user', slug: 'mallory' }),
        disable: await call('PATCH', '/entities/rita', { disabled: true }),
        overview: await call('GET', '/console/overview'),
        metrics: (await fetch('/metrics', { credentials: 'same-origin' })).status,
      };
    });
    assert.deepEqual(statuses, {
      deleteDatabase: 403,
      grant: 403,
      limits: 403,
      createUser: 403,
      disable: 403,
      overview: 403,
      metrics: 401, // the session cookie is sent to /api/v1 only
    });
    // An organisation she creates is hers to administer: members are editable there.
    await p.getByRole('link', { name: 'People' }).click();
    await p.getByRole('button', { name: 'New organisation' }).click();
    const dialog = p.getByRole('dialog', { name: 'New organisation' });
    await dialog.getByLabel('Name').fill('ritaco');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await p.getByRole('link', { name: 'ritaco' }).click();
    await p.getByRole('button', { name: 'Add member' }).waitFor();
    await p.getByLabel('User', { exact: true }).fill('carol');
    await p.getByRole('button', { name: 'Add member' }).click();
    await p.getByRole('button', { name: 'Remove carol' }).waitFor();
    await screenshot(p, 'org-admin-members');
    assert.deepEqual(rita.problems, []);
    await rita.context.close();
  });

  test('CONSOLE-08 an ended or expired session leads back to sign-in with a message, never a blank page', async () => {
    const rita = await openConsole(browser, postern);
    const p = rita.page;
    await signIn(p, 'rita', 'rita-password');
    // Ended on the server: an administrator sets her password, her console sessions end.
    const reset = await http.call('PUT', '/entities/rita/password', {
      token: adminToken,
      body: { password: 'rita-new-password' },
    });
    assert.equal(reset.status, 204);
    await p.getByRole('link', { name: 'Live sessions' }).click();
    await p.getByTestId('login-notice').filter({ hasText: 'Your session has ended' }).waitFor();
    assert.equal(new URL(p.url()).pathname, '/login');
    assert.equal(new URL(p.url()).searchParams.get('next'), '/sessions');
    await screenshot(p, 'session-ended');
    await p.getByLabel('User name').fill('rita');
    await p.getByLabel('Password').fill('rita-new-password');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Live sessions' }).waitFor();
    assert.equal(new URL(p.url()).pathname, '/sessions', 'back where she was');
    // Expired in the browser: the cookie's Max-Age ran out, so the browser no longer sends it.
    await rita.context.clearCookies();
    await p.getByRole('link', { name: 'Databases' }).click();
    await p.getByTestId('login-notice').filter({ hasText: 'Your session has ended' }).waitFor();
    assert.equal(new URL(p.url()).searchParams.get('next'), '/databases');
    assert.deepEqual(rita.problems, []);
    await rita.context.close();
  });

  test('CONSOLE-11 destructive actions ask first: a database deleted with its name typed, a token revoked, a user disabled', async () => {
    const created = await http.call('POST', '/databases', {
      token: adminToken,
      body: { owner: 'admin', name: 'scratch' },
    });
    assert.equal(created.status, 201);
    await page.goto('/databases/admin/scratch');
    await page.getByRole('button', { name: 'Delete database' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete admin/scratch' });
    const deleteButton = confirm.getByRole('button', { name: 'Delete database' });
    await confirm.getByLabel(/Type admin\/scratch to confirm/).fill('admin/scratc');
    assert.equal(await deleteButton.isDisabled(), true, 'not before the exact name');
    await confirm.getByLabel(/Type admin\/scratch to confirm/).fill('admin/scratch');
    await screenshot(page, 'database-delete');
    await deleteButton.click();
    await page.waitForURL(/\/databases$/);
    assert.equal(
      (await http.call('GET', '/databases/admin/scratch', { token: adminToken })).status,
      404,
    );

    await page.goto('/tokens?user=carol');
    const row = page.getByRole('row').filter({ hasText: 'reports' });
    await row.getByRole('button', { name: 'Revoke reports' }).click();
    await page
      .getByRole('dialog', { name: 'Revoke reports' })
      .getByRole('button', { name: 'Revoke' })
      .click();
    await row.getByText('revoked').waitFor();
    const refused = await run(
      'psql',
      [
        '--no-psqlrc',
        `host=localhost port=${postern.wirePort} user=carol dbname=admin/shop sslmode=verify-full sslrootcert=${postern.caFile}`,
        '-c',
        'SELECT 1',
      ],
      { env: { PGPASSWORD: tokenSecret, PGCONNECT_TIMEOUT: '10' } },
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /password authentication failed/);

    await page.goto('/people/carol');
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByText('carol is disabled').waitFor();
    await page.getByRole('button', { name: 'Enable' }).waitFor();
    await screenshot(page, 'person-disabled');
    const carol = await http.call('GET', '/entities/carol', { token: adminToken });
    assert.equal(carol.body.disabled, true);
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('button', { name: 'Disable' }).waitFor();
    noProblems();
  });

  test('CONSOLE-09 every page reads on a narrow window without sideways scrolling', async () => {
    const narrow = await openConsole(browser, postern, { width: 390, height: 844 });
    const p = narrow.page;
    await signIn(p, 'admin', ADMIN_PASSWORD);
    for (const path of [
      '/overview',
      '/people',
      '/people/carol',
      '/tokens?user=carol',
      '/databases',
      '/databases/admin/shop',
      '/sessions',
      '/sql?database=admin/shop',
      '/audit',
    ]) {
      await p.goto(path);
      await p.locator('main h1').waitFor();
      await p.waitForLoadState('networkidle');
      const overflow = await p.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      );
      const widest = await p.evaluate(`[...document.querySelectorAll('main *')]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth)
        .slice(0, 3).map((e) => e.tagName + '.' + e.className).join(', ')`);
      assert.ok((overflow as number) <= 0, `${path} scrolls sideways by ${overflow}px: ${widest}`);
      await screenshot(p, `narrow${path.replace(/[/?=&]+/g, '-')}`);
    }
    assert.deepEqual(narrow.problems, []);
    await narrow.context.close();
  });
});

/** Polls `probe` until it answers something (the audit is written after the answer). */
async function waitFor<T>(probe: () => Promise<T | undefined>, attempts = 50): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition not reached');
}
