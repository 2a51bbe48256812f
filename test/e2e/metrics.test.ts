import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { AdminHttp, type AdminSession } from '../support/admin-http';
import { Scrape, scrapeUntil } from '../support/metrics';
import { PosternProcess } from '../support/postern-process';
import { cancelRequest, connectRaw } from '../support/raw-client';

/**
 * Prometheus metrics against the real gateway: every number is compared with the traffic
 * the test itself sent, as a difference between two scrapes.
 */
describe('metrics at /metrics (Operating Postern, part 1)', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let api: AdminSession;
  const USER = 'metricsuser';
  const QUERY_MARK = 'metrics_query_marker';

  before(async () => {
    // info: the session-end lines (OBS-07) are written at that level.
    postern = await PosternProcess.start({ env: { POSTERN_LOG_LEVEL: 'info' } });
    http = AdminHttp.of(postern);
    api = await http.session();
    await http.createUsers(api.token, [USER]);
    const created = await api.request('POST', '/databases', { owner: 'admin', name: 'shop' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });
  after(() => postern.dispose());

  const scrape = () => Scrape.of(http, api.token);
  const loginCode = async (password: string, overrides: pg.ClientConfig = {}) => {
    try {
      await (await postern.connect({ password, ...overrides })).end();
      return 'connected';
    } catch (err) {
      return (err as { code?: string }).code ?? (err as Error).message;
    }
  };

  test('OBS-01 /metrics answers site admins only, in the Prometheus format, with process metrics', async () => {
    assert.equal((await http.call('GET', '/metrics', { absolute: true })).status, 401);
    const user = await http.login(USER, `${USER}-password`);
    assert.equal((await http.call('GET', '/metrics', { absolute: true, token: user })).status, 403);
    const answer = await http.call<string>('GET', '/metrics', { absolute: true, token: api.token });
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/plain;.* version=0\.0\.4/);
    const metrics = await scrape();
    assert.ok(metrics.value('postern_process_resident_memory_bytes') > 0, metrics.text);
    assert.ok(metrics.value('postern_process_cpu_seconds_total') > 0);
    assert.ok(metrics.samples.some((s) => s.name === 'postern_nodejs_eventloop_lag_seconds'));
    // Every metric of the gateway is postern_*.
    assert.deepEqual(
      metrics.samples.filter((s) => !s.name.startsWith('postern_')).map((s) => s.name),
      [],
    );
  });

  test('OBS-02 wire and HTTP logins are counted by method and outcome, connections as accepted', async () => {
    const { token } = await api.createToken('admin', { name: 'metrics' });
    const before = await scrape();
    for (let i = 0; i < 3; i++)
      assert.equal(await loginCode('correct-horse-battery-staple'), 'connected');
    for (let i = 0; i < 2; i++) assert.equal(await loginCode(token), 'connected');
    for (let i = 0; i < 2; i++) assert.equal(await loginCode('wrong password'), '28P01');
    await http.login(USER, `${USER}-password`);
    const refused = await http.call('POST', '/auth/login', {
      body: { username: USER, password: 'not it' },
    });
    assert.equal(refused.status, 401);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      after.value(name, labels) - before.value(name, labels);
    const logins = (transport: string, method: string, outcome: string) =>
      delta('postern_logins_total', { transport, method, outcome });
    assert.equal(logins('wire', 'password', 'success'), 3);
    assert.equal(logins('wire', 'token', 'success'), 2);
    assert.equal(logins('wire', 'password', 'failure'), 2);
    assert.equal(logins('http', 'password', 'success'), 1);
    assert.equal(logins('http', 'password', 'failure'), 1);
    assert.equal(delta('postern_logins_total'), 9);
    assert.equal(delta('postern_client_connections_accepted_total'), 7);
  });

  test('OBS-03 sessions per database and level, and client connections by TLS, follow open sessions', async () => {
    const clients = [
      await postern.connect(),
      await postern.connect(),
      await postern.connect({ database: 'admin/shop' }),
    ];
    let metrics = await scrape();
    assert.equal(metrics.value('postern_sessions', { database: 'admin/main', level: 'owner' }), 2);
    assert.equal(metrics.value('postern_sessions', { database: 'admin/shop', level: 'owner' }), 1);
    assert.equal(
      metrics.value('postern_client_connections', { state: 'authenticated', tls: 'yes' }),
      3,
    );
    assert.equal(
      metrics.value('postern_client_connections', { state: 'authenticated', tls: 'no' }),
      0,
    );
    assert.ok(metrics.value('postern_upstream_connections', { state: 'busy' }) >= 3);
    await Promise.all(clients.map((client) => client.end()));
    metrics = await scrapeUntil(http, api.token, (m) => m.value('postern_sessions') === 0);
    assert.ok(!metrics.samples.some((s) => s.name === 'postern_sessions'), 'no stale series');
  });

  test('OBS-04 HTTP queries: statements by outcome, the duration histogram, rows and request counts', async () => {
    const route = '/api/v1/databases/:owner/:name/query';
    const query = (body: unknown) => api.request('POST', '/databases/admin/shop/query', body);
    const before = await scrape();
    assert.equal(
      (await query({ sql: `SELECT g AS ${QUERY_MARK} FROM generate_series(1, 5) g` })).status,
      200,
    );
    const transaction = await query({
      transaction: [{ sql: 'SELECT 1' }, { sql: 'SELECT 2 UNION SELECT 3' }],
    });
    assert.equal(transaction.status, 200, JSON.stringify(transaction.body));
    assert.equal((await query({ sql: 'SELECT * FROM no_such_table' })).status, 400);
    const after = await scrapeUntil(
      http,
      api.token,
      (m) =>
        m.value('postern_statement_duration_seconds_count', { transport: 'http' }) -
          before.value('postern_statement_duration_seconds_count', { transport: 'http' }) ===
        3,
    );
    const delta = (name: string, labels: Record<string, string>) =>
      after.value(name, labels) - before.value(name, labels);
    assert.equal(delta('postern_statements_total', { transport: 'http', outcome: 'ok' }), 3);
    assert.equal(delta('postern_statements_total', { transport: 'http', outcome: 'error' }), 1);
    const requests = (status: string) =>
      delta('postern_http_requests_total', { method: 'POST', route, status });
    assert.equal(requests('200'), 2);
    assert.equal(requests('400'), 1);
    assert.ok(delta('postern_statement_duration_seconds_sum', { transport: 'http' }) > 0);
  });

  test('OBS-05 labels are bounded: no user name, query text, address or id in any label', async () => {
    const client = await postern
      .connect({ user: USER, password: `${USER}-password`, database: 'admin/shop' })
      .catch(() => null);
    await client?.end();
    await http.call('GET', `/no-such-route/${USER}`, { token: api.token });
    const metrics = await scrape();
    for (const forbidden of [USER, QUERY_MARK, 'generate_series', '127.0.0.1', 'pst_', 'pss_']) {
      assert.ok(!metrics.text.includes(forbidden), `"${forbidden}" appears in /metrics`);
    }
    const allowed = new Set([
      'state',
      'tls',
      'reason',
      'transport',
      'method',
      'outcome',
      'database',
      'level',
      'direction',
      'kind',
      'route',
      'status',
      'le',
      'quantile',
      // prom-client's process metrics
      'version',
      'major',
      'minor',
      'patch',
      'space',
      'type',
    ]);
    const labelNames = new Set(metrics.samples.flatMap((s) => Object.keys(s.labels)));
    assert.deepEqual(
      [...labelNames].filter((name) => !allowed.has(name)),
      [],
    );
    assert.ok(
      metrics.value('postern_http_requests_total', { route: 'unmatched', status: '404' }) >= 1,
    );
  });

  test('OBS-07 wire statements, relayed bytes and rows, guardrail hits and the session-end line follow the traffic', async () => {
    const limits = await api.request('PUT', '/databases/admin/shop/limits', { maxResultRows: 5 });
    assert.equal(limits.status, 200, JSON.stringify(limits.body));
    const before = await scrape();
    const client = await postern.connect({ database: 'admin/shop' });
    await client.query('SELECT 1');
    await client.query('SELECT g FROM generate_series(1, 4) g');
    await assert.rejects(client.query('SELECT 1/0'), { code: '22012' });
    await assert.rejects(client.query('SELECT g FROM generate_series(1, 100) g'), {
      code: '54000',
    });
    // Answered only once the guardrail's cancel is through: the Terminate that follows is
    // then read as such, not held back with it.
    await client.query('SELECT 2');
    await client.end();
    // The session's end (and its line) comes once the gateway saw the client go.
    const after = await scrapeUntil(
      http,
      api.token,
      (m) => m.value('postern_sessions') === before.value('postern_sessions'),
    );
    const delta = (name: string, labels: Record<string, string> = {}) =>
      after.value(name, labels) - before.value(name, labels);
    const wire = { transport: 'wire' };
    assert.equal(delta('postern_statements_total', { ...wire, outcome: 'ok' }), 3);
    assert.equal(delta('postern_statements_total', { ...wire, outcome: 'error' }), 2);
    assert.equal(delta('postern_statement_duration_seconds_count', wire), 5);
    // 1 + 4 + 1 rows reached the client, and the 5 the limit let through before it cut.
    assert.equal(
      delta('postern_relayed_rows_total', { ...wire, direction: 'upstream_to_client' }),
      11,
    );
    assert.ok(
      delta('postern_relayed_bytes_total', { ...wire, direction: 'client_to_upstream' }) > 0,
    );
    assert.ok(
      delta('postern_relayed_bytes_total', { ...wire, direction: 'upstream_to_client' }) > 0,
    );
    assert.equal(delta('postern_guardrail_hits_total', { ...wire, kind: 'max_result_rows' }), 1);

    const ends = postern.log
      .split('\n')
      .filter((line) => line.includes('"session.end"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // The newest line of admin/shop is this session's (earlier tests end sessions there too).
    const mine = ends.filter((end) => end.database === 'admin/shop').at(-1);
    assert.ok(mine, postern.log);
    assert.equal(mine.statements, 5);
    assert.equal(mine.rows, 11);
    assert.equal(mine.ending, 'client_terminate');
    assert.equal(mine.user, 'admin');
    assert.ok((mine.bytesIn as number) > 0 && (mine.bytesOut as number) > 0);
  });
  test('OBS-08 cancel requests by outcome and wire pool acquires by outcome (new, reused) are counted', async () => {
    const before = await scrape();
    const first = await postern.connect({ database: 'admin/shop' });
    await first.end();
    // The pool's idle connection serves the next session of the same database and role.
    const client = await postern.connect({ database: 'admin/shop' });
    const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
    const key = Buffer.alloc(4);
    key.writeInt32BE(secretKey);
    const sleeping = client.query('SELECT pg_sleep(30)');
    const cancel = async (packet: Buffer) => {
      const socket = await connectRaw(postern.wirePort);
      socket.end(packet);
      await new Promise((resolve) => socket.once('close', resolve));
    };
    // Sent once the statement is running: its session says so.
    for (let i = 0; ; i++) {
      const listed = await api.request('GET', '/sessions?database=admin/shop');
      const running = (listed.body as Array<{ state: string; query: string | null }>).some(
        (session) => session.state === 'active' && session.query === 'SELECT pg_sleep(30)',
      );
      if (running) break;
      assert.ok(i < 100, 'the statement never became active');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await cancel(cancelRequest(processID, Buffer.from(key.map((byte) => byte ^ 0xff))));
    await cancel(cancelRequest(processID, Buffer.from([1, 2])));
    await cancel(cancelRequest(processID, key));
    await assert.rejects(sleeping, { code: '57014' });
    await client.end();
    const after = await scrapeUntil(
      http,
      api.token,
      (m) =>
        m.value('postern_cancel_requests_total') - before.value('postern_cancel_requests_total') ===
        3,
    );
    const delta = (name: string, labels: Record<string, string> = {}) =>
      after.value(name, labels) - before.value(name, labels);
    assert.equal(delta('postern_cancel_requests_total', { outcome: 'forwarded' }), 1);
    assert.equal(delta('postern_cancel_requests_total', { outcome: 'unmatched' }), 1);
    assert.equal(delta('postern_cancel_requests_total', { outcome: 'malformed' }), 1);
    const pool = { database: 'admin/shop', level: 'read-write' };
    assert.equal(
      delta('postern_pool_acquire_duration_seconds_count', { ...pool, outcome: 'reused' }) +
        delta('postern_pool_acquire_duration_seconds_count', { ...pool, outcome: 'new' }),
      2,
    );
    assert.ok(
      delta('postern_pool_acquire_duration_seconds_count', { ...pool, outcome: 'reused' }) >= 1,
    );
  });
  test('OBS-14 each pool reports connections in use and idle, and new upstream connections are timed', async () => {
    const before = await scrape();
    const held = await postern.connect({ database: 'admin/shop' });
    const other = await postern.connect({ database: 'admin/shop' });
    const pool = { database: 'admin/shop', level: 'read-write' };
    const during = await scrapeUntil(
      http,
      api.token,
      (m) => m.value('postern_pool_connections', { ...pool, state: 'in_use' }) === 2,
    );
    assert.equal(during.value('postern_pool_waiting', pool), 0);
    await held.end();
    await other.end();
    const after = await scrapeUntil(
      http,
      api.token,
      (m) =>
        m.value('postern_pool_connections', { ...pool, state: 'in_use' }) === 0 &&
        m.value('postern_pool_connections', { ...pool, state: 'idle' }) >= 2,
    );
    // The second session needed a new upstream connection (the first may have had one idle).
    const connects = (m: Scrape) =>
      m.value('postern_upstream_connect_duration_seconds_count', { outcome: 'ok' });
    assert.ok(connects(after) - connects(before) >= 1, after.text);
    assert.equal(
      after.value('postern_upstream_connect_failures_total') -
        before.value('postern_upstream_connect_failures_total'),
      0,
    );
  });

  test('OBS-15 HTTP queries: each request times its pool acquire, and its protocol bytes are counted both ways', async () => {
    const pool = { database: 'admin/shop', level: 'read-write' };
    const acquires = (m: Scrape) =>
      m.value('postern_pool_acquire_duration_seconds_count', { ...pool, outcome: 'reused' }) +
      m.value('postern_pool_acquire_duration_seconds_count', { ...pool, outcome: 'new' });
    const bytes = (m: Scrape, direction: string) =>
      m.value('postern_relayed_bytes_total', { transport: 'http', direction });
    const query = (body: unknown, headers?: Record<string, string>) =>
      http.call('POST', '/databases/admin/shop/query', { token: api.token, body, headers });
    const before = await scrape();
    const sql = `SELECT repeat('x', 100000) AS obs15 /* ${'y'.repeat(1000)} */`;
    const big = await query({ sql });
    assert.equal(big.status, 200, JSON.stringify(big.body).slice(0, 200));
    const answered = await scrape();
    const sent = bytes(answered, 'client_to_upstream') - bytes(before, 'client_to_upstream');
    const received = bytes(answered, 'upstream_to_client') - bytes(before, 'upstream_to_client');
    // Parse, Bind, Describe, Execute, Sync around the text; the answer's 100,000 bytes and
    // the messages around them. Nothing of the pool's own work (settings, DISCARD ALL).
    assert.ok(sent >= sql.length && sent < sql.length + 100, `sent ${sent}`);
    assert.ok(received >= 100_000 && received < 100_000 + 200, `received ${received}`);
    const transaction = await query({ transaction: [{ sql: 'SELECT 1' }, { sql: 'SELECT 2' }] });
    assert.equal(transaction.status, 200, JSON.stringify(transaction.body));
    const streamed = await query({ sql: 'SELECT 1 AS obs15' }, { accept: 'application/x-ndjson' });
    assert.equal(streamed.status, 200);
    const failed = await query({ sql: 'SELECT * FROM obs15_no_such_table' });
    assert.equal(failed.status, 400);
    const after = await scrapeUntil(http, api.token, (m) => acquires(m) - acquires(before) >= 4);
    // One connection per request, transaction included.
    assert.equal(acquires(after) - acquires(before), 4);
    assert.equal(
      after.value('postern_pool_acquire_duration_seconds_count', { ...pool, outcome: 'failed' }) -
        before.value('postern_pool_acquire_duration_seconds_count', {
          ...pool,
          outcome: 'failed',
        }),
      0,
    );
    assert.ok(bytes(after, 'upstream_to_client') - bytes(before, 'upstream_to_client') > received);
  });

  test('OBS-09 HTTP queries: rows returned and guardrail hits by kind, JSON caps and row size included', async () => {
    const query = (body: unknown) => api.request('POST', '/databases/admin/main/query', body);
    const limits = await api.request('PUT', '/databases/admin/shop/limits', { maxResultRows: 5 });
    assert.equal(limits.status, 200, JSON.stringify(limits.body));
    const before = await scrape();
    assert.equal((await query({ sql: 'SELECT g FROM generate_series(1, 7) g' })).status, 200);
    const transaction = await query({
      transaction: [{ sql: 'SELECT 1' }, { sql: 'SELECT 2 UNION SELECT 3' }],
    });
    assert.equal(transaction.status, 200, JSON.stringify(transaction.body));
    // admin/main has no limits: a JSON answer stops at its own 10,000-row cap.
    const capped = await query({ sql: 'SELECT g FROM generate_series(1, 10001) g' });
    assert.equal(capped.status, 400, JSON.stringify(capped.body));
    assert.equal(capped.body.sqlstate, '54000');
    // admin/shop's limit of 5 rows is the configured guardrail.
    const limited = await api.request('POST', '/databases/admin/shop/query', {
      sql: 'SELECT g FROM generate_series(1, 50) g',
    });
    assert.equal(limited.status, 400, JSON.stringify(limited.body));
    const after = await scrapeUntil(
      http,
      api.token,
      (m) =>
        m.value('postern_guardrail_hits_total', { transport: 'http' }) -
          before.value('postern_guardrail_hits_total', { transport: 'http' }) ===
        2,
    );
    const delta = (name: string, labels: Record<string, string>) =>
      after.value(name, labels) - before.value(name, labels);
    const http_ = { transport: 'http' };
    assert.equal(delta('postern_guardrail_hits_total', { ...http_, kind: 'http_result_cap' }), 1);
    assert.equal(delta('postern_guardrail_hits_total', { ...http_, kind: 'max_result_rows' }), 1);
    // 7 + 1 + 2 rows answered; the cut results' rows are not counted as answered.
    assert.equal(
      delta('postern_relayed_rows_total', { ...http_, direction: 'upstream_to_client' }),
      10,
    );
  });
});
