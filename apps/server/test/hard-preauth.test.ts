import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config';
import {
  escapeLogText,
  logSink,
  PinoNestLogger,
  rateLimited,
  useLogDestination,
} from '../src/logging';
import { limitedAs, UnauthenticatedConnections } from '../src/wire/unauthenticated-connections';

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

test('HARD-01 the per-address limit counts IPv6 clients by their /64', () => {
  assert.equal(limitedAs('127.0.0.2'), '127.0.0.2');
  assert.equal(limitedAs('::ffff:127.0.0.2'), '127.0.0.2');
  assert.equal(limitedAs('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(limitedAs('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(limitedAs('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(limitedAs('::1'), '0:0:0:0::/64');
  assert.equal(limitedAs('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(limitedAs('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
  const limits = new UnauthenticatedConnections({ total: 10, perAddress: 1 });
  assert.ok(limits.admit('2001:db8:1:2::1'));
  assert.equal(limits.admit('2001:db8:1:2::2'), null);
  assert.ok(limits.admit('2001:db8:1:3::1'));
});

describe('HARD-15 / HARD-17 log lines', () => {
  test('HARD-15 control characters are escaped, other text is kept', () => {
    assert.equal(
      escapeLogText('evil\x1b[31mred\nFORGED\r\t\x00\x7f\u0085\u2028 é ü 日本'),
      'evil\\x1b[31mred\\nFORGED\\r\\t\\x00\\x7f\\x85\\u2028 é ü 日本',
    );
  });

  for (const format of ['json', 'pretty'] as const) {
    test(`HARD-15 the process logger (${format}) escapes messages and stacks, and survives an error without a stack`, () => {
      const lines: string[] = [];
      const restore = useLogDestination(format, { write: (line: string) => lines.push(line) });
      try {
        const logger = new PinoNestLogger();
        logger.error('one\ntwo');
        logger.error('with a stack', 'Error: x\n    at y (file.js:1:2)', 'Context');
        logger.error('odd context', 'not\na stack');
        logger.log('three\x1b[31m', 'Context');
        logSink('Sink').warn('four\u009b\r');
      } finally {
        restore();
      }
      const written = lines.join('');
      assert.match(written, /one\\+ntwo/);
      assert.match(written, /Error: x\\+n {4}at y \(file\.js:1:2\)/);
      assert.match(written, /not\\+na stack/);
      assert.match(written, /three\\+x1b\[31m/);
      assert.match(written, /four\\+x9b\\+r/);
      assert.ok(
        // eslint-disable-next-line no-control-regex -- control characters are what is matched
        !/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(written),
        'a raw control character was written',
      );
      assert.equal(written.trimEnd().split('\n').length, 5, 'one line per call');
      if (format === 'json') for (const line of lines) JSON.parse(line);
    });
  }

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
