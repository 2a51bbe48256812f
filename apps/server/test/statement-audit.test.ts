import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BackendType as BE, FrontendType as FE } from '#wire';
import {
  STATEMENT_TEXT_LIMIT,
  TRACKED_PREPARED_LIMIT,
  StatementAudit,
  type AuditedStatement,
} from '../src/wire/session/statement-audit';

/*
 * StatementAudit fed frames as the relay hands them over (type byte, length,
 * body): what it reports for each protocol flow.
 */

function frame(type: number, ...parts: Array<string | Buffer>): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
const zeros = (n: number) => Buffer.alloc(n);
const query = (sql: string) => frame(FE.Query, `${sql}\0`);
const parse = (name: string, sql: string) => frame(FE.Parse, `${name}\0${sql}\0`, zeros(2));
const bind = (portal: string, name: string) => frame(FE.Bind, `${portal}\0${name}\0`, zeros(6));
const execute = (portal = '') => frame(FE.Execute, `${portal}\0`, zeros(4));
const close = (kind: 'S' | 'P', name: string) => frame(FE.Close, `${kind}${name}\0`);
const sync = () => frame(FE.Sync);
const complete = (tag: string) => frame(BE.CommandComplete, `${tag}\0`);
const error = (code: string) => frame(BE.ErrorResponse, `SERROR\0C${code}\0Mboom\0\0`);
const ready = (status = 'I') => frame(BE.ReadyForQuery, status);

class Session {
  readonly reported: AuditedStatement[] = [];
  readonly audit = new StatementAudit((s) => this.reported.push(s));
  send(...frames: Buffer[]): this {
    for (const f of frames) this.audit.client(f[0]!, f);
    return this;
  }
  receive(...frames: Buffer[]): this {
    for (const f of frames) this.audit.upstream(f[0]!, f);
    return this;
  }
  brief() {
    return this.reported.map((s) => [s.text, s.executions, s.rows, s.sqlstate]);
  }
}

describe('AUDIT-11 statement audit: results matched to what the client sent', () => {
  test('a simple Query with several statements is one row, its rows summed', () => {
    const s = new Session().send(query('INSERT INTO t VALUES (1); SELECT 1'));
    s.receive(complete('INSERT 0 1'), complete('SELECT 1'), ready());
    assert.deepEqual(s.brief(), [['INSERT INTO t VALUES (1); SELECT 1', 1, 2, null]]);
  });

  test('a failed simple Query carries its SQLSTATE; an empty one is still a row', () => {
    const s = new Session().send(query('SELECT 1/0'), query(''));
    s.receive(error('22012'), ready(), frame(BE.EmptyQueryResponse), ready());
    assert.deepEqual(s.brief(), [
      ['SELECT 1/0', 1, 0, '22012'],
      ['', 1, 0, null],
    ]);
  });

  test('a named statement executed three times is one row, at its Close', () => {
    const s = new Session().send(parse('s1', 'SELECT $1'), sync());
    s.receive(frame(BE.ParseComplete), ready());
    for (let i = 0; i < 3; i++) {
      s.send(bind('', 's1'), execute(), sync());
      s.receive(frame(BE.BindComplete), complete('SELECT 2'), ready());
    }
    assert.equal(s.reported.length, 0);
    s.send(close('S', 's1'), sync());
    assert.equal(s.reported.length, 1);
    assert.equal(s.reported[0]!.prepared, 's1');
    assert.equal(s.reported[0]!.protocol, 'extended');
    assert.deepEqual(s.brief(), [['SELECT $1', 3, 6, null]]);
  });

  test('named statements still open are reported at the session end; ones never executed are not', () => {
    const s = new Session().send(parse('a', 'SELECT 1'), parse('b', 'SELECT 2'), bind('', 'a'));
    s.send(execute(), sync());
    s.receive(frame(BE.ParseComplete), frame(BE.ParseComplete), frame(BE.BindComplete));
    s.receive(complete('SELECT 1'), ready());
    s.audit.end();
    assert.deepEqual(s.brief(), [['SELECT 1', 1, 1, null]]);
  });

  test('a pipeline: each result to its Execute, the error to the failing one, the rest skipped', () => {
    const s = new Session();
    for (const sql of ['SELECT 1', 'SELECT * FROM missing', 'SELECT 3']) {
      s.send(parse('', sql), bind('', ''), execute());
    }
    s.send(sync(), query('SELECT 4'));
    s.receive(frame(BE.ParseComplete), frame(BE.BindComplete), complete('SELECT 1'));
    s.receive(error('42P01'), ready(), complete('SELECT 1'), ready());
    assert.deepEqual(s.brief(), [
      ['SELECT 1', 1, 1, null],
      ['SELECT * FROM missing', 0, 0, '42P01'],
      ['SELECT 4', 1, 1, null],
    ]);
  });

  test("an error at Bind is the bound statement's", () => {
    const s = new Session().send(parse('', 'SELECT $1::int'), bind('', ''), execute(), sync());
    s.receive(frame(BE.ParseComplete), error('22P02'), ready());
    assert.deepEqual(s.brief(), [['SELECT $1::int', 0, 0, '22P02']]);
  });

  test('named portals and row-limited Executes (PortalSuspended) count executions', () => {
    const s = new Session().send(parse('c', 'SELECT g FROM t'), bind('p1', 'c'));
    s.send(execute('p1'), execute('p1'), sync());
    s.receive(frame(BE.ParseComplete), frame(BE.BindComplete), frame(BE.PortalSuspended));
    s.receive(complete('SELECT 5'), ready());
    s.audit.end();
    assert.deepEqual(s.brief(), [['SELECT g FROM t', 2, 5, null]]);
  });

  test(`text is kept up to ${STATEMENT_TEXT_LIMIT} bytes and marked truncated`, () => {
    const long = `SELECT '${'x'.repeat(STATEMENT_TEXT_LIMIT)}'`;
    const s = new Session().send(query(long)).receive(complete('SELECT 1'), ready());
    assert.equal(s.reported[0]!.text.length, STATEMENT_TEXT_LIMIT);
    assert.equal(s.reported[0]!.truncated, true);
  });

  test(`past ${TRACKED_PREPARED_LIMIT} named statements the oldest is reported and forgotten; its executions still count`, () => {
    const s = new Session();
    s.send(parse('first', 'SELECT 0'), bind('', 'first'), execute(), sync());
    s.receive(frame(BE.ParseComplete), frame(BE.BindComplete), complete('SELECT 1'), ready());
    for (let i = 1; i <= TRACKED_PREPARED_LIMIT; i++) s.send(parse(`s${i}`, `SELECT ${i}`));
    assert.deepEqual(s.brief(), [['SELECT 0', 1, 1, null]], 'evicted: reported');
    s.send(bind('', 'first'), execute(), sync());
    for (let i = 1; i <= TRACKED_PREPARED_LIMIT; i++) s.receive(frame(BE.ParseComplete));
    s.receive(frame(BE.BindComplete), complete('SELECT 1'), ready());
    s.audit.end();
    const again = s.reported.find((r) => r.prepared === 'first' && r.text === '');
    assert.ok(again, 'a stand-in without text counts the later execution');
    assert.equal(again.executions, 1);
    assert.equal(again.truncated, true);
  });

  test('a client far ahead of its results is not followed until in step again', () => {
    const s = new Session();
    for (let i = 0; i < 10_001; i++) s.send(query(`SELECT ${i}`));
    assert.equal(s.audit.missed, 1);
    for (let i = 0; i < 10_001; i++) s.receive(complete('SELECT 1'), ready());
    s.send(query('SELECT again')).receive(complete('SELECT 1'), ready());
    assert.deepEqual(s.brief(), [['SELECT again', 1, 1, null]]);
  });
});
