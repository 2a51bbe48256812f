import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config';
import { escapeLogText, rateLimited } from '../src/logging';
import { UnauthenticatedConnections } from '../src/wire/unauthenticated-connections';

describe('HARD-01 unauthenticated connection limits', () => {
  test('HARD-01 defaults, settings, and a per-address limit above the total is refused', () => {
    const defaults = loadConfig({}, '/tmp');
    assert.equal(defaults.maxUnauthenticated, 256);
    assert.equal(defaults.maxUnauthenticatedPerAddress, 64);
    const set = loadConfig(
      { POSTERN_MAX_UNAUTHENTICATED: '10', POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS: '3' },
      '/tmp',
    );
    assert.equal(set.maxUnauthenticated, 10);
    assert.equal(set.maxUnauthenticatedPerAddress, 3);
    assert.equal(
      loadConfig({ POSTERN_MAX_UNAUTHENTICATED: '8' }, '/tmp').maxUnauthenticatedPerAddress,
      8,
    );
    for (const env of [
      { POSTERN_MAX_UNAUTHENTICATED: '0' },
      { POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS: 'many' },
      { POSTERN_MAX_UNAUTHENTICATED: '10', POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS: '11' },
    ]) {
      assert.throws(() => loadConfig(env, '/tmp'), ConfigError);
    }
  });

  test('HARD-01 slots per address and in total; a release is counted once', () => {
    const limits = new UnauthenticatedConnections({ total: 3, perAddress: 2 });
    const a1 = limits.admit('a')!;
    const a2 = limits.admit('a')!;
    assert.equal(limits.admit('a'), null, 'per address');
    const b1 = limits.admit('b')!;
    assert.equal(limits.admit('c'), null, 'in total');
    a1();
    a1();
    assert.equal(limits.count, 2);
    assert.ok(limits.admit('c'));
    assert.equal(limits.admit('a'), null, 'the total is full again');
    a2();
    b1();
    assert.ok(limits.admit('a'));
  });
});

describe('HARD-15 / HARD-17 log lines', () => {
  test('HARD-15 control characters are escaped, other text is kept', () => {
    assert.equal(
      escapeLogText('evil\x1b[31mred\nFORGED\r\t\x00\x7f\u0085\u2028 é ü 日本'),
      'evil\\x1b[31mred\\nFORGED\\r\\t\\x00\\x7f\\x85\\u2028 é ü 日本',
    );
  });

  test('HARD-17 a rate-limited line source writes at most N lines a minute, then says how many it left out', (t) => {
    t.mock.timers.enable({ apis: ['Date'] });
    const lines: string[] = [];
    const write = rateLimited((line) => lines.push(line), 2);
    for (let i = 0; i < 5; i++) write(`line ${i}`);
    assert.deepEqual(lines, ['line 0', 'line 1']);
    t.mock.timers.tick(60_000);
    write('line 5');
    assert.deepEqual(lines, [
      'line 0',
      'line 1',
      '(3 similar lines left out in the last minute)',
      'line 5',
    ]);
  });
});
