import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import {
  QueryError,
  StatementRunner,
  UpstreamConnection,
  type JsonValue,
  type QueryLimits,
} from '#engine';

/*
 * StatementRunner against a scripted upstream: the bytes PostgreSQL would
 * send are built here by hand (not with the code under test), and what the
 * runner writes is read back frame by frame.
 */

function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
const cstring = (s: string) => Buffer.from(`${s}\0`);
const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const rowDescription = (...fields: Array<[string, number]>) =>
  message(
    'T',
    Buffer.concat([
      int16(fields.length),
      ...fields.map(([name, oid]) =>
        Buffer.concat([
          cstring(name),
          int32(0),
          int16(0),
          int32(oid),
          int16(-1),
          int32(-1),
          int16(0),
        ]),
      ),
    ]),
  );
const dataRow = (...values: Array<string | null>) =>
  message(
    'D',
    Buffer.concat([
      int16(values.length),
      ...values.map((v) =>
        v === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(v)), Buffer.from(v)]),
      ),
    ]),
  );
const complete = (tag: string) => message('C', cstring(tag));
const ready = (status: 'I' | 'T' | 'E') => message('Z', Buffer.from(status));
const error = (fields: Record<string, string>) =>
  message(
    'E',
    Buffer.concat([
      ...Object.entries(fields).map(([k, v]) => Buffer.concat([Buffer.from(k), cstring(v)])),
      Buffer.from([0]),
    ]),
  );
const preamble = Buffer.concat([message('1'), message('2')]);

class FakeUpstream extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.written.push(chunk);
    callback();
  }
  send(...frames: Buffer[]): void {
    this.push(Buffer.concat(frames));
  }
  /** Frontend message types written so far, in order. */
  get types(): string {
    const all = Buffer.concat(this.written);
    let out = '';
    for (let i = 0; i < all.length; i += 1 + all.readInt32BE(i + 1))
      out += String.fromCharCode(all[i]!);
    return out;
  }
}

const NO_LIMITS: QueryLimits = { maxResultRows: 0, maxResultBytes: 0, statementTimeoutMs: 0 };

function setup(limits: QueryLimits = NO_LIMITS, signal?: AbortSignal) {
  const upstream = new FakeUpstream();
  let cancels = 0;
  const connection = new UpstreamConnection(
    upstream,
    new Map(),
    { processId: 4242, secretKey: Buffer.alloc(4) },
    async () => {
      cancels++;
    },
  );
  const runner = new StatementRunner(connection, { limits, signal });
  const rows: JsonValue[][] = [];
  const sink = { fields: [] as unknown[], summary: null as unknown };
  const resultSink = {
    fields: (f: readonly unknown[]) => void (sink.fields = [...f]),
    row: (values: JsonValue[]) => void rows.push(values),
    complete: (summary: unknown) => void (sink.summary = summary),
  };
  return { upstream, connection, runner, rows, sink, resultSink, cancels: () => cancels };
}

describe('StatementRunner', () => {
  test('one statement: Parse/Bind/Describe/Execute/Sync, typed rows, reusable when idle', async () => {
    const { upstream, connection, runner, rows, sink, resultSink } = setup();
    const run = runner.run({ sql: 'SELECT $1::int AS n', params: [7] }, resultSink);
    upstream.send(
      preamble,
      rowDescription(['n', 23], ['t', 25]),
      dataRow('7', null),
      complete('SELECT 1'),
      ready('I'),
    );
    await run;
    assert.equal(upstream.types, 'PBDES');
    const sent = Buffer.concat(upstream.written).toString('latin1');
    assert.ok(sent.includes('SELECT $1::int AS n\0'));
    assert.ok(sent.includes('\0\0\0\x017'), 'the parameter travels as text in Bind');
    assert.deepEqual(sink.fields, [
      { name: 'n', dataTypeID: 23 },
      { name: 't', dataTypeID: 25 },
    ]);
    assert.deepEqual(rows, [[7, null]]);
    assert.deepEqual(sink.summary, { command: 'SELECT', rowCount: 1 });
    runner.finish();
    assert.equal(connection.reusable, true, 'the connection says whether it may be reused');
  });

  test('an ErrorResponse is thrown after ReadyForQuery, with position; the session stays reusable', async () => {
    const { upstream, connection, runner, resultSink } = setup();
    const run = runner.run({ sql: 'SELEC 1', params: [] }, resultSink);
    upstream.send(
      error({ S: 'ERROR', C: '42601', M: 'syntax error at or near "SELEC"', P: '1' }),
      ready('I'),
    );
    await assert.rejects(run, (err: QueryError) => {
      assert.equal(err.sqlstate, '42601');
      assert.equal(err.fields.position, 1);
      return true;
    });
    runner.finish();
    assert.equal(connection.reusable, true, 'the connection says whether it may be reused');
  });

  test('past the row limit: one CancelRequest, 54000, and the session is not reused', async () => {
    const { upstream, connection, runner, rows, resultSink, cancels } = setup({
      ...NO_LIMITS,
      maxResultRows: 1,
    });
    const run = runner.run({ sql: 'SELECT g', params: [] }, resultSink);
    upstream.send(preamble, rowDescription(['g', 23]), dataRow('1'), dataRow('2'), dataRow('3'));
    await new Promise((resolve) => setImmediate(resolve));
    upstream.send(
      error({ S: 'ERROR', C: '57014', M: 'canceling statement due to user request' }),
      ready('I'),
    );
    await assert.rejects(
      run,
      (err: QueryError) => err.sqlstate === '54000' && /1 rows/.test(err.message),
    );
    assert.deepEqual(rows, [[1]]);
    assert.equal(cancels(), 1);
    runner.finish();
    assert.equal(connection.reusable, false, 'the connection says whether it may be reused');
  });

  test('the statement timeout cancels and reports 57014 as a timeout', async () => {
    const { upstream, connection, runner, resultSink, cancels } = setup({
      ...NO_LIMITS,
      statementTimeoutMs: 20,
    });
    const run = runner.run({ sql: 'SELECT pg_sleep(10)', params: [] }, resultSink);
    upstream.send(preamble, rowDescription(['pg_sleep', 2278]));
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(cancels(), 1);
    upstream.send(
      error({ S: 'ERROR', C: '57014', M: 'canceling statement due to user request' }),
      ready('I'),
    );
    await assert.rejects(run, /statement timeout/);
    runner.finish();
    assert.equal(connection.reusable, false, 'the connection says whether it may be reused');
  });

  test('a session left in a transaction is not reusable', async () => {
    const { upstream, connection, runner, resultSink } = setup();
    const run = runner.run({ sql: 'BEGIN', params: [] }, resultSink);
    upstream.send(preamble, message('n'), complete('BEGIN'), ready('T'));
    await run;
    assert.equal(runner.transactionStatus, 'T');
    runner.finish();
    assert.equal(connection.reusable, false, 'the connection says whether it may be reused');
  });

  test('COPY FROM STDIN gets CopyFail and another Sync, and answers 0A000', async () => {
    const { upstream, connection, runner, resultSink } = setup();
    const run = runner.run({ sql: 'COPY t FROM STDIN', params: [] }, resultSink);
    upstream.send(preamble, message('n'), message('G', Buffer.from([0, 0, 0])));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(upstream.types, 'PBDESfS');
    upstream.send(error({ S: 'ERROR', C: '57014', M: 'COPY from stdin failed' }), ready('I'));
    await assert.rejects(run, (err: QueryError) => err.sqlstate === '0A000');
    runner.finish();
    assert.equal(connection.reusable, true, 'the connection says whether it may be reused');
  });

  test('an aborted request cancels, closes the session and rejects', async () => {
    const controller = new AbortController();
    const { upstream, connection, runner, resultSink, cancels } = setup(
      NO_LIMITS,
      controller.signal,
    );
    const run = runner.run({ sql: 'SELECT 1', params: [] }, resultSink);
    controller.abort();
    await assert.rejects(run, (err: QueryError) => err.sqlstate === '57014');
    assert.equal(cancels(), 1);
    assert.ok(upstream.destroyed);
    runner.finish();
    assert.equal(connection.reusable, false, 'the connection says whether it may be reused');
  });

  test('a malformed message closes the session', async () => {
    const { upstream, connection, runner, resultSink } = setup();
    const run = runner.run({ sql: 'SELECT 1', params: [] }, resultSink);
    upstream.send(preamble, message('D', Buffer.from([0, 1, 0, 0, 0, 9])));
    await assert.rejects(run, (err: QueryError) => err.sqlstate === '08P01');
    assert.ok(upstream.destroyed);
    runner.finish();
    assert.equal(connection.reusable, false, 'the connection says whether it may be reused');
  });

  test('HARD-08 a DataRow longer than maxRowBytes is refused from its header, before its body arrives', async () => {
    const { upstream, connection, runner, resultSink, cancels } = setup({
      ...NO_LIMITS,
      maxRowBytes: 1000,
    });
    const run = runner.run({ sql: 'select repeat($1, 300000000)', params: ['x'] }, resultSink);
    const header = Buffer.alloc(5);
    header.write('D', 0, 'latin1');
    header.writeInt32BE(300_000_010, 1);
    upstream.send(preamble, rowDescription(['repeat', 25]), header);
    await assert.rejects(run, (err: QueryError) => {
      assert.equal(err.sqlstate, '54000');
      assert.match(err.message, /a row exceeds the limit of 1000 bytes per row over HTTP/);
      return true;
    });
    assert.equal(cancels(), 1);
    assert.ok(upstream.destroyed, 'the session is closed, not read to the end');
    runner.finish();
    assert.equal(connection.reusable, false, 'the connection says whether it may be reused');
  });

  test('HARD-17 the last command tag is kept: COMMIT AND CHAIN leaves status T but says COMMIT', async () => {
    const { upstream, runner, resultSink } = setup();
    const run = runner.run({ sql: 'COMMIT AND CHAIN', params: [] }, resultSink);
    upstream.send(preamble, message('n'), complete('COMMIT'), ready('T'));
    await run;
    assert.equal(runner.transactionStatus, 'T');
    assert.equal(runner.lastCommand, 'COMMIT');
  });
});
