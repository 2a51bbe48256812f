import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import {
  PooledUpstream,
  SESSION_SETTINGS_QUERY,
  UpstreamConnection,
  type TransactionLease,
} from '#engine';

/*
 * PooledUpstream between a scripted client (what the relay would write and
 * read) and scripted upstream connections: frames built by hand, what each
 * side receives read back message by message.
 */

class ScriptedUpstream extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.written.push(chunk);
    callback();
  }
  /** Messages received since the last call, as `type:text` strings. */
  sent(): string[] {
    const all = Buffer.concat(this.written.splice(0));
    return messages(all);
  }
  answer(...frames: Buffer[]): void {
    this.push(Buffer.concat(frames));
  }
}

function messages(all: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + 5 <= all.length; i += 1 + all.readInt32BE(i + 1)) {
    const body = all.subarray(i + 5, i + 1 + all.readInt32BE(i + 1));
    const text = body
      .toString('latin1')
      .replace(/\0/g, '|')
      .replace(/[^\x20-\x7e|]/g, '.');
    out.push(`${String.fromCharCode(all[i]!)}:${text}`);
  }
  return out;
}

function message(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(data.length + 4, 1);
  return Buffer.concat([header, data]);
}

const cstrings = (...parts: string[]) => parts.map((part) => `${part}\0`).join('');
const fe = {
  query: (sql: string) => message('Q', cstrings(sql)),
  parse: (name: string, sql: string) => message('P', `${cstrings(name, sql)}\0\0`),
  bind: (statement: string) => message('B', `${cstrings('', statement)}\0\0\0\0\0\0`),
  describeStatement: (name: string) => message('D', `S${cstrings(name)}`),
  describePortal: () => message('D', 'P\0'),
  execute: () => message('E', '\0\0\0\0\0'),
  close: (name: string) => message('C', `S${cstrings(name)}`),
  sync: () => message('S'),
};
const be = {
  parseComplete: () => message('1'),
  bindComplete: () => message('2'),
  closeComplete: () => message('3'),
  noData: () => message('n'),
  row: (...values: string[]) => {
    const parts = [Buffer.from([0, values.length])];
    for (const value of values) {
      const length = Buffer.alloc(4);
      length.writeInt32BE(value.length);
      parts.push(length, Buffer.from(value));
    }
    return message('D', Buffer.concat(parts));
  },
  complete: (tag: string) => message('C', cstrings(tag)),
  error: (code: string, text: string) => message('E', `SERROR\0C${code}\0M${text}\0\0`),
  ready: (status: 'I' | 'T' | 'E') => message('Z', status),
};
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A pool of scripted connections: `next` says which one the next acquire gets. */
function setup(settings: Record<string, string> = {}) {
  const upstreams = [new ScriptedUpstream(), new ScriptedUpstream()];
  const connections = upstreams.map(
    (socket, i) =>
      new UpstreamConnection(
        socket,
        new Map(),
        { processId: 100 + i, secretKey: Buffer.alloc(4) },
        () => Promise.resolve(),
      ),
  );
  const released: Array<{ connection: number; keep: boolean }> = [];
  let acquires = 0;
  let next = 0;
  const pooled = new PooledUpstream({
    acquire: async (): Promise<TransactionLease> => {
      acquires++;
      const index = next;
      return {
        connection: connections[index]!,
        waitedMs: 0,
        settings: null,
        release: (keep) => released.push({ connection: index, keep }),
      };
    },
    settings: new Map(Object.entries(settings)),
    maxClientStatements: 100,
    maxConnectionStatements: 100,
    processId: 7,
  });
  const received: Buffer[] = [];
  pooled.socket.on('data', (chunk: Buffer) => received.push(chunk));
  return {
    pooled,
    upstreams,
    released,
    acquires: () => acquires,
    use: (index: number) => (next = index),
    send: async (...frames: Buffer[]) => {
      pooled.socket.write(Buffer.concat(frames));
      await tick();
      await tick();
    },
    /** What the client received since the last call. */
    client: () => messages(Buffer.concat(received.splice(0))),
  };
}

describe('PooledUpstream: transaction pooling for one client', () => {
  test('holds no connection until a message needs one; a lone Sync and Close are answered here', async () => {
    const t = setup();
    await t.send(fe.close('gone'), fe.sync());
    assert.equal(t.acquires(), 0);
    assert.deepEqual(t.client(), ['3:', 'Z:I']);
    assert.equal(t.pooled.assigned, false);
  });

  test('a statement outside a transaction holds a connection until its ReadyForQuery', async () => {
    const t = setup();
    await t.send(fe.query('select 1'));
    assert.equal(t.pooled.assigned, true);
    assert.deepEqual(t.upstreams[0]!.sent(), ['Q:select 1|']);
    t.upstreams[0]!.answer(be.row('1'), be.complete('SELECT 1'), be.ready('I'));
    await tick();
    assert.deepEqual(t.client(), ['D:|.|||.1', 'C:SELECT 1|', 'Z:I']);
    assert.equal(t.pooled.assigned, false);
    assert.deepEqual(t.released, [{ connection: 0, keep: true }]);
  });

  test('a transaction keeps its connection from BEGIN to COMMIT', async () => {
    const t = setup();
    await t.send(fe.query('begin'));
    t.upstreams[0]!.answer(be.complete('BEGIN'), be.ready('T'));
    await tick();
    t.use(1);
    await t.send(fe.query('insert into t values (1)'));
    assert.deepEqual(t.upstreams[0]!.sent(), ['Q:begin|', 'Q:insert into t values (1)|']);
    t.upstreams[0]!.answer(be.complete('INSERT 0 1'), be.ready('T'));
    await tick();
    await t.send(fe.query('commit'));
    t.upstreams[0]!.answer(be.complete('COMMIT'), be.ready('I'));
    await tick();
    assert.equal(t.acquires(), 1);
    assert.deepEqual(t.released, [{ connection: 0, keep: true }]);
    assert.deepEqual(t.upstreams[1]!.sent(), []);
  });

  test("a client's named statement is prepared on each connection it runs on, under that connection's name", async () => {
    const t = setup();
    await t.send(fe.parse('s1', 'select $1'), fe.sync());
    assert.deepEqual(t.upstreams[0]!.sent(), ['P:postern_1|select $1|||', 'S:']);
    t.upstreams[0]!.answer(be.parseComplete(), be.ready('I'));
    await tick();
    assert.deepEqual(t.client(), ['1:', 'Z:I']);

    t.use(1);
    await t.send(fe.bind('s1'), fe.execute(), fe.sync());
    assert.deepEqual(t.upstreams[1]!.sent(), [
      'P:postern_1|select $1|||',
      'B:|postern_1|||||||',
      'E:|||||',
      'S:',
    ]);
    t.upstreams[1]!.answer(
      be.parseComplete(),
      be.bindComplete(),
      be.row('x'),
      be.complete('SELECT 1'),
      be.ready('I'),
    );
    await tick();
    assert.deepEqual(
      t.client(),
      ['2:', 'D:|.|||.x', 'C:SELECT 1|', 'Z:I'],
      'no ParseComplete of ours',
    );

    // Back on the first connection, where it is prepared already: no Parse.
    t.use(0);
    await t.send(fe.bind('s1'), fe.execute(), fe.sync());
    assert.deepEqual(t.upstreams[0]!.sent(), ['B:|postern_1|||||||', 'E:|||||', 'S:']);
  });

  test('a Parse of a statement the connection has already is answered here, in order', async () => {
    const t = setup();
    await t.send(fe.parse('a', 'select 1'), fe.sync());
    t.upstreams[0]!.answer(be.parseComplete(), be.ready('I'));
    await tick();
    t.client();
    t.upstreams[0]!.sent();
    // Closed by the client, but still prepared on the connection for whoever needs it.
    await t.send(fe.close('a'));
    await t.send(fe.query('select 2'), fe.parse('b', 'select 1'), fe.sync());
    assert.deepEqual(t.upstreams[0]!.sent(), ['Q:select 2|', 'S:']);
    t.upstreams[0]!.answer(be.complete('SELECT 1'), be.ready('I'), be.ready('I'));
    await tick();
    assert.deepEqual(t.client(), ['3:', 'C:SELECT 1|', 'Z:I', '1:', 'Z:I']);
  });

  test('a statement the client never prepared fails as in PostgreSQL (26000), raised upstream', async () => {
    const t = setup();
    await t.send(fe.bind('nope'), fe.execute(), fe.sync());
    const sent = t.upstreams[0]!.sent();
    assert.match(sent[0]!, /^P:\|DO \$postern\$BEGIN RAISE EXCEPTION USING ERRCODE = '26000'/);
    assert.match(sent[0]!, /prepared statement "nope" does not exist/);
    assert.deepEqual(sent.slice(1), ['B:||||||||', 'E:|||||', 'E:|||||', 'S:']);
    t.upstreams[0]!.answer(
      be.parseComplete(),
      be.bindComplete(),
      be.error('26000', 'prepared statement "nope" does not exist'),
      be.ready('I'),
    );
    await tick();
    assert.deepEqual(t.client(), [
      'E:SERROR|C26000|Mprepared statement "nope" does not exist||',
      'Z:I',
    ]);
  });

  test('after an error, nothing is answered up to the Sync, as PostgreSQL skips', async () => {
    const t = setup();
    await t.send(fe.parse('a', 'select 1'), fe.parse('b', 'select bad'));
    t.upstreams[0]!.answer(be.parseComplete(), be.error('42703', 'column "bad" does not exist'));
    await tick();
    t.upstreams[0]!.sent();
    await t.send(fe.close('a'), fe.sync());
    t.upstreams[0]!.answer(be.ready('I'));
    await tick();
    assert.deepEqual(t.client(), ['1:', 'E:SERROR|C42703|Mcolumn "bad" does not exist||', 'Z:I']);
    // The failed Parse created nothing: not on the connection, not for the client.
    t.client();
    t.upstreams[0]!.sent();
    await t.send(fe.parse('b', 'select bad'), fe.sync());
    assert.deepEqual(t.upstreams[0]!.sent(), ['P:postern_3|select bad|||', 'S:']);
  });

  test('a Parse PostgreSQL skipped after an error creates nothing either', async () => {
    const t = setup();
    await t.send(fe.bind('missing'), fe.parse('later', 'select 1'), fe.sync());
    t.upstreams[0]!.answer(
      be.parseComplete(),
      be.bindComplete(),
      be.error('26000', 'prepared statement "missing" does not exist'),
      be.ready('I'),
    );
    await tick();
    t.upstreams[0]!.sent();
    await t.send(fe.parse('later', 'select 1'), fe.sync());
    assert.deepEqual(t.upstreams[0]!.sent(), ['P:postern_2|select 1|||', 'S:']);
  });

  test('what cannot work in transaction mode is refused by PostgreSQL with the reason', async () => {
    const t = setup();
    await t.send(fe.query('LISTEN jobs'));
    const [sent] = t.upstreams[0]!.sent();
    assert.match(sent!, /^Q:DO \$postern\$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000'/);
    assert.match(sent!, /LISTEN is not supported in transaction pooling mode/);
  });

  test('startup settings are applied only where they differ; SET is read back after its transaction', async () => {
    const t = setup({ application_name: 'app' });
    await t.send(fe.query('select 1'));
    assert.deepEqual(t.upstreams[0]!.sent(), [
      "Q:SELECT pg_catalog.set_config('application_name', 'app', false)|",
      'Q:select 1|',
    ]);
    t.upstreams[0]!.answer(
      be.row('app'),
      be.complete('SELECT 1'),
      be.ready('I'),
      be.complete('SELECT 1'),
      be.ready('I'),
    );
    await tick();
    assert.deepEqual(
      t.client(),
      ['C:SELECT 1|', 'Z:I'],
      'the settings round trip is not the client’s',
    );

    await t.send(fe.query("set search_path = 'app'"));
    t.upstreams[0]!.sent();
    t.upstreams[0]!.answer(be.complete('SET'), be.ready('I'));
    await tick();
    assert.deepEqual(t.upstreams[0]!.sent(), [`Q:${SESSION_SETTINGS_QUERY}|`]);
    assert.equal(t.pooled.assigned, true, 'held until the settings are read');
    t.upstreams[0]!.answer(
      be.row('application_name', 'app'),
      be.row('search_path', 'app'),
      be.complete('SELECT 2'),
      be.ready('I'),
    );
    await tick();
    assert.deepEqual(t.client(), ['C:SET|', 'Z:I']);
    assert.equal(t.pooled.assigned, false);

    // The other connection has none of them: both are set there first.
    t.use(1);
    await t.send(fe.query('select 2'));
    assert.deepEqual(t.upstreams[1]!.sent(), [
      "Q:SELECT pg_catalog.set_config('application_name', 'app', false), pg_catalog.set_config('search_path', 'app', false)|",
      'Q:select 2|',
    ]);
    // And the first needs nothing.
    t.upstreams[1]!.answer(be.row('app', 'app'), be.complete('SELECT 1'), be.ready('I'));
    t.upstreams[1]!.answer(be.complete('SELECT 1'), be.ready('I'));
    await tick();
    t.use(0);
    await t.send(fe.query('select 3'));
    assert.deepEqual(t.upstreams[0]!.sent(), ['Q:select 3|']);
  });

  test('TXN-10 a SET prepared in one round trip and executed in a later one is read back after its execution (psycopg 3, libpq)', async () => {
    // libpq's PQsendPrepare is Parse + Sync on its own; PQsendQueryPrepared
    // then sends Bind, Describe, Execute, Sync: the setting changes only then.
    const t = setup();
    await t.send(fe.parse('_pg3_0', "SET application_name = 'mine'"), fe.sync());
    t.upstreams[0]!.sent();
    t.upstreams[0]!.answer(be.parseComplete(), be.ready('I'));
    await tick();
    assert.deepEqual(t.client(), ['1:', 'Z:I']);
    assert.equal(t.pooled.assigned, false, 'preparing changes no setting: nothing to read back');

    await t.send(fe.bind('_pg3_0'), fe.execute(), fe.sync());
    assert.deepEqual(t.upstreams[0]!.sent(), ['B:|postern_1|||||||', 'E:|||||', 'S:']);
    t.upstreams[0]!.answer(be.bindComplete(), be.complete('SET'), be.ready('I'));
    await tick();
    assert.deepEqual(t.upstreams[0]!.sent(), [`Q:${SESSION_SETTINGS_QUERY}|`]);
    t.upstreams[0]!.answer(
      be.row('application_name', 'mine'),
      be.complete('SELECT 1'),
      be.ready('I'),
    );
    await tick();
    assert.deepEqual(t.client(), ['2:', 'C:SET|', 'Z:I']);
    assert.equal(t.pooled.assigned, false);

    // On another connection the setting is applied first.
    t.use(1);
    await t.send(fe.query('select 1'));
    assert.deepEqual(t.upstreams[1]!.sent(), [
      "Q:SELECT pg_catalog.set_config('application_name', 'mine', false)|",
      'Q:select 1|',
    ]);
  });

  test("DEALLOCATE of the client's own statement is answered here (psycopg's way of closing)", async () => {
    const t = setup();
    await t.send(fe.parse('_pg3_0', 'select 1'), fe.sync());
    t.upstreams[0]!.answer(be.parseComplete(), be.ready('I'));
    await tick();
    t.client();
    t.upstreams[0]!.sent();
    await t.send(fe.query('DEALLOCATE _pg3_0'));
    assert.deepEqual(t.client(), ['C:DEALLOCATE|', 'Z:I']);
    assert.deepEqual(t.upstreams[0]!.sent(), []);
    await t.send(fe.bind('_pg3_0'), fe.execute(), fe.sync());
    assert.match(t.upstreams[0]!.sent()[0]!, /prepared statement "_pg3_0" does not exist/);
  });

  test('a cancel of a statement still waiting for a connection fails it with 57014 instead of running it', async () => {
    const t = setup();
    let grant: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (grant = resolve));
    const acquire = (t.pooled as unknown as { options: { acquire: () => Promise<unknown> } })
      .options;
    const original = acquire.acquire;
    acquire.acquire = async () => {
      await waiting;
      return original();
    };
    await t.send(fe.query('SELECT pg_sleep(10)'));
    await t.pooled.cancel();
    grant();
    await tick();
    await tick();
    const [sent] = t.upstreams[0]!.sent();
    assert.match(sent!, /^Q:DO \$postern\$BEGIN RAISE EXCEPTION USING ERRCODE = '57014'/);
    assert.match(sent!, /canceling statement due to user request/);
    // Only that statement: the next one runs.
    t.upstreams[0]!.answer(
      be.error('57014', 'canceling statement due to user request'),
      be.ready('I'),
    );
    await tick();
    await t.send(fe.query('select 1'));
    assert.deepEqual(t.upstreams[0]!.sent(), ['Q:select 1|']);
  });

  test('TXN-10 DEALLOCATE ALL sent as an unnamed extended-protocol statement (psycopg 3 after a ROLLBACK) is answered here', async () => {
    const t = setup();
    await t.send(fe.parse('_pg3_0', 'select 1'), fe.sync());
    t.upstreams[0]!.answer(be.parseComplete(), be.ready('I'));
    await tick();
    t.client();
    t.upstreams[0]!.sent();
    await t.send(
      fe.parse('', 'DEALLOCATE ALL'),
      fe.bind(''),
      fe.describePortal(),
      fe.execute(),
      fe.sync(),
    );
    assert.deepEqual(t.upstreams[0]!.sent(), [], 'the connection keeps its statements for others');
    assert.deepEqual(t.client(), ['1:', '2:', 'n:', 'C:DEALLOCATE ALL|', 'Z:I']);
    assert.equal(t.acquires(), 1);
    // The client's statement is gone, the connection's is not: prepared again, answered here.
    await t.send(fe.bind('_pg3_0'), fe.execute(), fe.sync());
    assert.match(t.upstreams[0]!.sent()[0]!, /prepared statement "_pg3_0" does not exist/);
    t.upstreams[0]!.answer(
      be.parseComplete(),
      be.bindComplete(),
      be.error('26000', 'prepared statement "_pg3_0" does not exist'),
      be.ready('I'),
    );
    await tick();
    t.client();
    await t.send(fe.parse('_pg3_1', 'select 1'), fe.bind('_pg3_1'), fe.execute(), fe.sync());
    assert.deepEqual(t.upstreams[0]!.sent(), ['B:|postern_1|||||||', 'E:|||||', 'S:']);
  });

  test('TXN-14 currval() after nextval() in the same transaction, both over the extended protocol, is not refused (node-postgres)', async () => {
    const t = setup();
    await t.send(fe.query('begin'));
    t.upstreams[0]!.answer(be.complete('BEGIN'), be.ready('T'));
    await tick();
    t.upstreams[0]!.sent();
    await t.send(
      fe.parse('next', 'SELECT nextval($1::regclass)'),
      fe.bind('next'),
      fe.execute(),
      fe.parse('', 'SELECT currval($1::regclass)'),
      fe.bind(''),
      fe.execute(),
      fe.sync(),
    );
    assert.deepEqual(t.upstreams[0]!.sent(), [
      'P:postern_1|SELECT nextval($1::regclass)|||',
      'B:|postern_1|||||||',
      'E:|||||',
      'P:|SELECT currval($1::regclass)|||',
      'B:||||||||',
      'E:|||||',
      'S:',
    ]);
  });

  test('TXN-14 a currval() prepared after nextval() is refused when executed in a later transaction without it', async () => {
    const t = setup();
    await t.send(fe.query('begin'), fe.query("select nextval('s')"));
    t.upstreams[0]!.answer(be.complete('BEGIN'), be.ready('T'));
    t.upstreams[0]!.answer(be.row('1'), be.complete('SELECT 1'), be.ready('T'));
    await tick();
    await t.send(fe.parse('cur', "select currval('s')"), fe.sync(), fe.query('commit'));
    t.upstreams[0]!.answer(be.parseComplete(), be.ready('T'));
    t.upstreams[0]!.answer(be.complete('COMMIT'), be.ready('I'));
    await tick();
    t.upstreams[0]!.sent();
    t.client();
    // Another connection, whose currval() is another client's.
    t.use(1);
    await t.send(fe.bind('cur'), fe.execute(), fe.sync());
    const [sent] = t.upstreams[1]!.sent();
    assert.match(sent!, /^P:\|DO \$postern\$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000'/);
    assert.match(sent!, /currval\(\) before nextval\(\) in the same transaction/);
  });

  test('TXN-14 a refused Parse fails as the Parse, whatever parameters the Bind after it supplies', async () => {
    const t = setup();
    await t.send(fe.parse('', 'SELECT pg_advisory_lock($1)'), fe.bind(''), fe.execute(), fe.sync());
    const sent = t.upstreams[0]!.sent();
    assert.match(sent[0]!, /^P:\|DO \$postern\$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000'/);
    assert.deepEqual(
      sent.slice(1, 3),
      ['B:||||||||', 'E:|||||'],
      'the gateway’s own Bind and Execute',
    );
    t.upstreams[0]!.answer(
      be.parseComplete(),
      be.bindComplete(),
      be.error('0A000', 'pg_advisory_lock() is not supported in transaction pooling mode'),
      be.ready('I'),
    );
    await tick();
    assert.deepEqual(t.client(), [
      'E:SERROR|C0A000|Mpg_advisory_lock() is not supported in transaction pooling mode||',
      'Z:I',
    ]);
  });

  test('the unnamed statement parsed again: the same SQL goes upstream as sent, other SQL is read anew', async () => {
    const t = setup();
    const transaction = async (sql: string) => {
      await t.send(fe.parse('', sql), fe.bind(''), fe.execute(), fe.sync());
      const sent = t.upstreams[0]!.sent();
      t.upstreams[0]!.answer(
        be.parseComplete(),
        be.bindComplete(),
        be.complete('SELECT 1'),
        be.ready('I'),
      );
      await tick();
      t.client();
      return sent;
    };
    const select = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
    assert.equal((await transaction(select))[0], `P:|${select}|||`);
    assert.equal((await transaction(select))[0], `P:|${select}|||`);
    // Another statement in its place is judged on its own SQL: refused as the Parse.
    const refused = await transaction('SELECT pg_advisory_lock($1)');
    assert.match(refused[0]!, /^P:\|DO \$postern\$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000'/);
    assert.equal((await transaction(select))[0], `P:|${select}|||`);
  });

  test('TXN-10 DISCARD ALL over the extended protocol: the connection’s statements are prepared again after it', async () => {
    const t = setup();
    await t.send(fe.parse('s1', 'select 1'), fe.sync());
    t.upstreams[0]!.answer(be.parseComplete(), be.ready('I'));
    await tick();
    t.upstreams[0]!.sent();
    await t.send(fe.parse('', 'DISCARD ALL'), fe.bind(''), fe.execute(), fe.sync());
    t.upstreams[0]!.sent();
    t.upstreams[0]!.answer(
      be.parseComplete(),
      be.bindComplete(),
      be.complete('DISCARD ALL'),
      be.ready('I'),
    );
    await tick();
    t.upstreams[0]!.sent(); // the settings read back after DISCARD ALL
    t.upstreams[0]!.answer(be.complete('SELECT 0'), be.ready('I'));
    await tick();
    await t.send(fe.bind('s1'), fe.execute(), fe.sync());
    assert.deepEqual(t.upstreams[0]!.sent(), [
      'P:postern_2|select 1|||',
      'B:|postern_2|||||||',
      'E:|||||',
      'S:',
    ]);
  });

  test('the session ending mid-transaction closes the connection; between transactions nothing is held', async () => {
    const t = setup();
    await t.send(fe.query('begin'));
    t.upstreams[0]!.answer(be.complete('BEGIN'), be.ready('T'));
    await tick();
    t.pooled.end(true);
    assert.deepEqual(t.released, [{ connection: 0, keep: false }]);
  });
});
