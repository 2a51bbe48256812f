import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config';

describe('guardrail settings (HARD-06, HARD-08)', () => {
  test('defaults: half the pool per user, no own upstream cap, 16 MiB per HTTP row', () => {
    const config = loadConfig({}, '/tmp');
    assert.equal(config.pool.sizePerUser, 10);
    assert.deepEqual(config.upstream, {
      maxConnections: 0,
      reserve: 20,
      httpReserve: 5,
      maxConnectionsPerUser: 0,
    });
    assert.equal(config.httpMaxRowBytes, 16 * 1024 * 1024);
    assert.equal(loadConfig({ POSTERN_POOL_SIZE: '5' }, '/tmp').pool.sizePerUser, 3);
  });

  test('a per-user pool share above the pool is the pool', () => {
    const config = loadConfig({ POSTERN_POOL_SIZE: '4', POSTERN_POOL_SIZE_PER_USER: '9' }, '/tmp');
    assert.equal(config.pool.sizePerUser, 4);
  });

  test('bad values stop the start naming the variable', () => {
    for (const [name, value] of [
      ['POSTERN_POOL_SIZE_PER_USER', '0'],
      ['POSTERN_UPSTREAM_MAX_CONNECTIONS', '-1'],
      ['POSTERN_UPSTREAM_RESERVE', 'many'],
      ['POSTERN_UPSTREAM_HTTP_RESERVE', '1.5'],
      ['POSTERN_UPSTREAM_MAX_CONNECTIONS_PER_USER', 'x'],
      ['POSTERN_HTTP_MAX_ROW_BYTES', '0'],
    ]) {
      assert.throws(
        () => loadConfig({ [name!]: value }, '/tmp'),
        (err: Error) => err instanceof ConfigError && err.message.startsWith(name!),
        name,
      );
    }
  });
});
