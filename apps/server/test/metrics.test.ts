import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { logEvent, logLevel, logSink, setLogLevel, useLogDestination } from '../src/logging';
import { PosternMetrics } from '../src/observability/metrics';
import { parseMetrics } from '../../../test/support/metrics';

describe('PosternMetrics', () => {
  test('OBS-06 hot-path counters and histograms export what was recorded, in the Prometheus format', async () => {
    const metrics = new PosternMetrics({ processMetrics: false });
    metrics.statementsRun('wire', 'ok', 3);
    metrics.statementsRun('wire', 'error');
    for (const seconds of [0.0005, 0.004, 0.004, 2]) metrics.statement('wire', seconds);
    metrics.relayed('wire', 'upstream_to_client', 1000, 7);
    metrics.relayed('wire', 'upstream_to_client', 24);
    const { body } = await metrics.expose();
    const samples = parseMetrics(body);
    const value = (name: string, labels: Record<string, string>) =>
      samples.find(
        (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      )?.value;
    assert.equal(value('postern_statements_total', { transport: 'wire', outcome: 'ok' }), 3);
    assert.equal(value('postern_statements_total', { transport: 'wire', outcome: 'error' }), 1);
    assert.equal(value('postern_statements_total', { transport: 'http', outcome: 'ok' }), 0);
    const bucket = (le: string) =>
      value('postern_statement_duration_seconds_bucket', { transport: 'wire', le });
    assert.equal(bucket('0.001'), 1);
    assert.equal(bucket('0.0025'), 1);
    assert.equal(bucket('0.005'), 3);
    assert.equal(bucket('1'), 3);
    assert.equal(bucket('2.5'), 4);
    assert.equal(bucket('+Inf'), 4);
    assert.equal(value('postern_statement_duration_seconds_count', { transport: 'wire' }), 4);
    assert.equal(value('postern_statement_duration_seconds_sum', { transport: 'wire' }), 2.0085);
    assert.equal(
      value('postern_relayed_bytes_total', { transport: 'wire', direction: 'upstream_to_client' }),
      1024,
    );
    assert.equal(
      value('postern_relayed_rows_total', { transport: 'wire', direction: 'upstream_to_client' }),
      7,
    );
    assert.match(body, /# TYPE postern_statement_duration_seconds histogram/);
    assert.match(body, /# TYPE postern_relayed_bytes_total counter/);
    assert.ok(!samples.some((s) => s.name.startsWith('postern_process_')));
  });
});

describe('process logger', () => {
  test('OBS-13 POSTERN_LOG_LEVEL and setLogLevel decide what is written; terminal lines are text', () => {
    const lines: string[] = [];
    const restore = useLogDestination('pretty', { write: (line: string) => lines.push(line) });
    const level = logLevel();
    try {
      setLogLevel('warn');
      logSink('Test').info('not written');
      logSink('Test').warn('written');
      setLogLevel('debug');
      logSink('Test').debug('now written');
      logEvent('info', 'HTTP', { event: 'http.request', path: '/a\x1b[31m' }, 'GET /a 200');
    } finally {
      setLogLevel(level);
      restore();
    }
    assert.equal(lines.length, 3, lines.join(''));
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN {2}\[Test\] written\n$/);
    assert.match(lines[1]!, /DEBUG \[Test\] now written/);
    assert.match(
      lines[2]!,
      /INFO {2}\[HTTP\] GET \/a 200 event=http\.request path=\/a\\x1b\[31m\n$/,
    );
  });
});
