import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config';
import { applyReload, liveConfig } from '../src/config/config-reload';
import { settingsFromArgv } from '../src/config/flags';

/** The problems a configuration has, one per line, or [] when it loads. */
function problems(...args: Parameters<typeof loadConfig>): readonly string[] {
  try {
    loadConfig(...args);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
}

describe('configuration sources', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'postern-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function file(name: string, text: string): Promise<string> {
    const at = path.join(dir, name);
    await writeFile(at, text);
    return at;
  }

  test('OPS-06a postern.toml in the working directory is read: flat, camelCase and table keys, and [postgres]', async () => {
    const cwd = await mkdtemp(path.join(dir, 'cwd-'));
    await writeFile(
      path.join(cwd, 'postern.toml'),
      [
        'port = 6000',
        'logLevel = "debug"',
        'statement_timeout = "1h"',
        '[pool]',
        'size = 8',
        'size_per_user = 2',
        '[postgres]',
        'max_connections = 300',
        'shared_buffers = "256MB"',
      ].join('\n'),
    );
    const config = loadConfig({}, cwd);
    assert.equal(config.port, 6000);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.guardrails.statementTimeoutMs, 3_600_000);
    assert.deepEqual(config.pool, {
      size: 8,
      sizePerUser: 2,
      idleTimeoutMs: 60_000,
      acquireTimeoutMs: 5_000,
    });
    assert.deepEqual(config.postgres, { max_connections: '300', shared_buffers: '256MB' });
  });

  test('OPS-06b JSON and YAML by extension, named by POSTERN_CONFIG; flags beat the environment, which beats the file', async () => {
    const json = await file('s.json', '{"port": 6001, "http_port": 7001, "max_connections": 5}');
    const yaml = await file('s.yaml', 'port: 6002\nhttp:\n  port: 7002\n');
    assert.equal(loadConfig({ POSTERN_CONFIG: json }, dir).maxConnections, 5);
    assert.equal(loadConfig({ POSTERN_CONFIG: yaml }, dir).httpPort, 7002);
    const env = { POSTERN_CONFIG: json, POSTERN_PORT: '6100', POSTERN_HTTP_PORT: '7100' };
    const config = loadConfig(env, dir, { POSTERN_PORT: '6200' });
    assert.deepEqual([config.port, config.httpPort, config.maxConnections], [6200, 7100, 5]);
    assert.deepEqual(settingsFromArgv(['--port', '6300', '--config', 'x.toml']), {
      POSTERN_PORT: '6300',
      POSTERN_CONFIG: 'x.toml',
    });
    assert.throws(() => settingsFromArgv(['--admin-password', 'secret-pass']), ConfigError);
  });

  test('OPS-06c an unknown POSTERN_* variable or file key is a problem, with a suggestion; others are ignored', async () => {
    assert.deepEqual(problems({ POSTERN_POOL_SIZ: '5', PATH: '/bin', POSTERN_TOKEN: 't' }, dir), [
      'POSTERN_POOL_SIZ is not a Postern setting (did you mean POSTERN_POOL_SIZE?)',
    ]);
    const toml = await file('typo.toml', 'pool_siz = 5\n[postgres]\nfsync = "off"\n');
    assert.deepEqual(problems({ POSTERN_CONFIG: toml }, dir), [
      'pool_siz in typo.toml is not a Postern setting',
      'postgres.fsync in typo.toml is not a Postern setting',
    ]);
  });

  test('OPS-06d every problem is reported, one line each, naming the setting and never its value', async () => {
    const toml = await file('bad.toml', 'port = "secret-one"\nauth_timeout = "soon"\n');
    const found = problems(
      { POSTERN_CONFIG: toml, POSTERN_POOL_SIZE: 'secret-two', POSTERN_ADMIN_PASSWORD: 'short' },
      dir,
      { POSTERN_LOG_LEVEL: 'secret-three' },
    );
    assert.deepEqual(found, [
      'port in bad.toml must be a port number between 0 and 65535',
      'POSTERN_ADMIN_PASSWORD must be at least 8 characters long',
      '--log-level must be one of error, warn, info, debug',
      'auth_timeout in bad.toml must be a duration such as 500ms, 10s, 2m or 1h',
      'POSTERN_POOL_SIZE must be an integer of at least 1',
    ]);
    assert.doesNotMatch(found.join('\n'), /secret|short/);
  });

  test('OPS-06e a file that does not parse or does not exist is one line without its content', async () => {
    const broken = await file('broken.toml', 'admin_password = "hunter22\n');
    const [problem] = problems({ POSTERN_CONFIG: broken }, dir);
    assert.match(problem!, /^broken\.toml is not valid TOML/);
    assert.doesNotMatch(problem!, /hunter/);
    assert.match(
      problems({ POSTERN_CONFIG: 'missing.toml' }, dir)[0]!,
      /missing\.toml cannot be read \(ENOENT\)/,
    );
  });

  test('OPS-06f PostgreSQL settings are checked, and refused with an external PostgreSQL', () => {
    assert.deepEqual(loadConfig({ POSTERN_PG_MAX_PREPARED_TRANSACTIONS: '0' }, dir).postgres, {
      max_prepared_transactions: '0',
    });
    assert.deepEqual(problems({ POSTERN_PG_SHARED_BUFFERS: 'lots' }, dir), [
      'POSTERN_PG_SHARED_BUFFERS must be a size such as 8MB or 1GB',
    ]);
    assert.deepEqual(
      problems(
        { POSTERN_PG_MAX_CONNECTIONS: '50', POSTERN_UPSTREAM_URL: 'postgresql://db/x' },
        dir,
      ),
      [
        'POSTERN_PG_MAX_CONNECTIONS applies to the embedded PostgreSQL only, not with POSTERN_UPSTREAM_URL',
      ],
    );
  });

  test('OPS-07a the HTTP listener has its own address and optional TLS', () => {
    const defaults = loadConfig({ POSTERN_HOST: '0.0.0.0' }, dir);
    assert.deepEqual([defaults.httpHost, defaults.httpTls], ['0.0.0.0', false]);
    const own = loadConfig(
      { POSTERN_HOST: '0.0.0.0', POSTERN_HTTP_HOST: '127.0.0.1', POSTERN_HTTP_TLS: 'on' },
      dir,
    );
    assert.deepEqual([own.httpHost, own.httpTls], ['127.0.0.1', true]);
    // The same port is fine on different addresses.
    const env = { POSTERN_PORT: '7000', POSTERN_HTTP_PORT: '7000' };
    assert.equal(problems(env, dir).length, 1);
    assert.equal(problems({ ...env, POSTERN_HTTP_HOST: '127.0.0.2' }, dir).length, 0);
    assert.equal(
      problems({ ...env, POSTERN_HOST: '0.0.0.0', POSTERN_HTTP_HOST: '127.0.0.2' }, dir).length,
      1,
    );
  });

  test('OPS-06g a reload installs what is read where it is used, and names what needs a restart', () => {
    const live = liveConfig(loadConfig({}, dir));
    const next = loadConfig(
      { POSTERN_STATEMENT_TIMEOUT: '2s', POSTERN_LOG_LEVEL: 'debug', POSTERN_POOL_SIZE: '3' },
      dir,
    );
    const pool = live.pool;
    assert.deepEqual(applyReload(live, next), {
      reloaded: ['logLevel', 'guardrails.statementTimeoutMs'],
      needsRestart: ['pool.size', 'pool.sizePerUser'],
    });
    assert.equal(live.guardrails.statementTimeoutMs, 2000);
    assert.equal(live.logLevel, 'debug');
    assert.equal(live.pool, pool, 'the pool settings stay as started');
    assert.deepEqual(applyReload(live, next), {
      reloaded: [],
      needsRestart: ['pool.size', 'pool.sizePerUser'],
    });
  });
});
