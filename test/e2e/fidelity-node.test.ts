import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import Cursor from 'pg-cursor';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import { connectTls, errorFields, int32, message, scramLogin } from '../support/raw-client';

/**
 * Protocol fidelity with node-postgres (extended protocol, pipelining, binary
 * results, portals read with Execute+Flush, COPY both ways, async messages)
 * through the real gateway. Only what the client observes is asserted, so
 * these hold for a byte relay and a message-aware one alike.
 */
/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 60_000 };

describe('protocol fidelity: node-postgres, pg-cursor, pg-copy-streams', () => {
  let postern: PosternProcess;
  let ca: string;

  before(async () => {
    postern = await PosternProcess.start();
    ca = await postern.ca();
  });
  after(() => postern.dispose());

  async function connect(overrides: pg.ClientConfig = {}): Promise<pg.Client> {
    const client = new pg.Client({
      host: 'localhost',
      port: postern.wirePort,
      user: 'admin',
      password: ADMIN_PASSWORD,
      database: 'admin/main',
      ssl: { ca, servername: 'localhost' },
      ...overrides,
    });
    await client.connect();
    return client;
  }

  async function withClient<T>(
    body: (client: pg.Client) => Promise<T>,
    overrides: pg.ClientConfig = {},
  ): Promise<T> {
    const client = await connect(overrides);
    try {
      return await body(client);
    } finally {
      await client.end();
    }
  }

  test(
    '200 pipelined extended queries (Parse/Bind/Execute/Sync each) resolve in order',
    LIMIT,
    async () => {
      await withClient(
        async (client) => {
          const order: number[] = [];
          const pending = Array.from({ length: 200 }, (_, i) =>
            client.query<{ v: number }>('SELECT $1::int AS v', [i]).then((result) => {
              order.push(i);
              return result.rows[0]!.v;
            }),
          );
          assert.deepEqual(
            await Promise.all(pending),
            Array.from({ length: 200 }, (_, i) => i),
          );
          assert.deepEqual(
            order,
            Array.from({ length: 200 }, (_, i) => i),
            'results come back in the order sent',
          );

          // An error in the middle of a pipeline fails that query only: each has its own Sync.
          const mixed = await Promise.allSettled(
            Array.from({ length: 60 }, (_, i) =>
              client.query<{ v: number }>(
                i === 30 ? 'SELECT 1 / ($1::int - $1::int) AS v' : 'SELECT $1::int AS v',
                [i],
              ),
            ),
          );
          mixed.forEach((outcome, i) => {
            if (i === 30) {
              assert.equal(outcome.status, 'rejected');
              assert.equal((outcome as PromiseRejectedResult).reason.code, '22012');
            } else {
              assert.equal(outcome.status, 'fulfilled', `query ${i}`);
              assert.equal((outcome as PromiseFulfilledResult<pg.QueryResult>).value.rows[0].v, i);
            }
          });
        },
        { pipeline: true },
      );
    },
  );

  test(
    'binary result format with node-pg: bytea, int8, int4, bool, text; bytea with all 256 values in text format',
    LIMIT,
    async () => {
      // node-pg decodes every DataRow field as UTF-8 before handing binary values to the
      // parsers (pg-protocol's BufferReader.string), so only values whose binary form is
      // valid UTF-8 survive its binary mode. The full byte range in binary format is
      // checked with the raw client below.
      const ascii = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
      const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const raw = (value: string | Buffer) => value;
      /** node-pg's `binary` query option (result format 1 for every column); not in @types/pg. */
      type BinaryQuery = pg.QueryConfig & { binary: true };
      const binary = (config: BinaryQuery) => config;
      await withClient(async (client) => {
        const result = await client.query(
          binary({
            text: 'SELECT $1::bytea AS b, $2::int8 AS big, $3::int4 AS i, true AS t, $4::text AS txt',
            values: [ascii, '72623859790382856', 16909060, 'héllo ✓'],
            binary: true,
            types: {
              getTypeParser: ((oid: number, format?: string) =>
                format === 'binary' && oid === 17
                  ? raw
                  : pg.types.getTypeParser(
                      oid,
                      format as 'binary',
                    )) as pg.CustomTypesConfig['getTypeParser'],
            },
          }),
        );
        assert.deepEqual(
          result.fields.map((field) => field.format),
          Array(5).fill('binary'),
          'every column came back in binary',
        );
        const row = result.rows[0];
        assert.ok(Buffer.isBuffer(row.b));
        assert.ok(ascii.equals(row.b), 'bytea in binary, byte for byte');
        assert.equal(row.big, '72623859790382856', 'int8 0x0102030405060708 through pg-int8');
        assert.equal(row.i, 16909060);
        assert.equal(row.t, true);
        assert.equal(row.txt, 'héllo ✓');

        // The same values in text format (bytea as hex), with the whole byte range and int8 extremes.
        const text = await client.query(
          'SELECT $1::bytea AS b, $2::int8 AS max, $3::int8 AS min, $4::int4 AS i',
          [allBytes, '9223372036854775807', '-9223372036854775808', -42],
        );
        assert.ok(allBytes.equals(text.rows[0].b), 'bytea with all 256 byte values');
        assert.deepEqual(
          [text.rows[0].max, text.rows[0].min, text.rows[0].i],
          ['9223372036854775807', '-9223372036854775808', -42],
        );
      });
    },
  );

  test(
    'binary parameters and results on the wire: all 256 byte values, int8 extremes, a 1 MiB bytea',
    LIMIT,
    async () => {
      const socket = await connectTls(postern.wirePort, ca);
      try {
        const { messages, stream } = await scramLogin(
          socket,
          { user: 'admin', database: 'admin/main' },
          ADMIN_PASSWORD,
        );
        assert.equal(messages.at(-1)!.type, 'Z');
        const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const large = randomBytes(1024 * 1024);
        const int8 = (n: bigint) => {
          const b = Buffer.alloc(8);
          b.writeBigInt64BE(n);
          return b;
        };
        const params = [allBytes, int8(9223372036854775807n), int8(-9223372036854775808n), large];
        const int16 = (n: number) => {
          const b = Buffer.alloc(2);
          b.writeInt16BE(n);
          return b;
        };
        const sql = 'SELECT $1::bytea AS a, $2::int8 AS max, $3::int8 AS min, $4::bytea AS large';
        socket.write(
          Buffer.concat([
            message('P', Buffer.concat([Buffer.from(`\0${sql}\0`), int16(0)])),
            message(
              'B',
              Buffer.concat([
                Buffer.from('\0\0'),
                int16(1),
                int16(1), // every parameter in binary
                int16(params.length),
                ...params.flatMap((value) => [int32(value.length), value]),
                int16(1),
                int16(1), // every result column in binary
              ]),
            ),
            message('E', Buffer.concat([Buffer.from('\0'), int32(0)])),
            message('S', ''),
          ]),
        );
        const types: string[] = [];
        let row: Buffer | undefined;
        for (;;) {
          const msg = await stream.next();
          assert.ok(msg, 'connection closed');
          if (msg.type === 'E') assert.fail(JSON.stringify(errorFields(msg.body)));
          types.push(msg.type);
          if (msg.type === 'D') row = msg.body;
          if (msg.type === 'Z') break;
        }
        assert.deepEqual(types, ['1', '2', 'D', 'C', 'Z']);
        assert.ok(row);
        assert.equal(row.readInt16BE(0), 4);
        const values: Buffer[] = [];
        let offset = 2;
        for (let i = 0; i < 4; i += 1) {
          const length = row.readInt32BE(offset);
          values.push(row.subarray(offset + 4, offset + 4 + length));
          offset += 4 + length;
        }
        assert.equal(offset, row.length);
        assert.ok(values[0]!.equals(allBytes), 'bytea with all 256 byte values');
        assert.equal(values[1]!.readBigInt64BE(), 9223372036854775807n);
        assert.equal(values[2]!.readBigInt64BE(), -9223372036854775808n);
        assert.ok(values[3]!.equals(large), '1 MiB of random bytes, unchanged');
      } finally {
        socket.destroy();
      }
    },
  );

  test('named prepared statements: parsed once, executed three times', LIMIT, async () => {
    await withClient(async (client) => {
      const values: number[] = [];
      for (const n of [3, 5, 7]) {
        const result = await client.query<{ v: number; label: string }>({
          name: 'fidelity_double',
          text: 'SELECT $1::int * 2 AS v, $2::text AS label',
          values: [n, `n=${n}`],
        });
        assert.equal(result.rows[0]!.label, `n=${n}`);
        values.push(result.rows[0]!.v);
        // an unrelated unnamed statement between executions does not disturb it
        await client.query('SELECT $1::text AS other', ['x']);
      }
      assert.deepEqual(values, [6, 10, 14]);
      const { rows } = await client.query<{ statement: string }>(
        'SELECT statement FROM pg_prepared_statements WHERE name = $1',
        ['fidelity_double'],
      );
      assert.deepEqual(rows, [{ statement: 'SELECT $1::int * 2 AS v, $2::text AS label' }]);

      // Bind to a statement the server no longer has: 26000, and the session recovers.
      await client.query('DEALLOCATE fidelity_double');
      await assert.rejects(
        client.query({
          name: 'fidelity_double',
          text: 'SELECT $1::int * 2 AS v, $2::text AS label',
          values: [1, 'a'],
        }),
        (err: { code?: string }) => err.code === '26000',
      );
      assert.equal((await client.query('SELECT 41 + 1 AS v')).rows[0].v, 42);
    });
  });

  test(
    'pg-cursor reads 10,000 rows in batches of 500 (Execute with a row limit, then Flush)',
    LIMIT,
    async () => {
      await withClient(async (client) => {
        const cursor = client.query(
          new Cursor<{ g: number; h: string }>(
            'SELECT g, md5(g::text) AS h FROM generate_series(1, $1::int) AS g ORDER BY g',
            [10_000],
          ),
        );
        const batchSizes: number[] = [];
        let expected = 1;
        for (;;) {
          const rows = await cursor.read(500);
          if (rows.length === 0) break;
          batchSizes.push(rows.length);
          for (const row of rows) {
            assert.equal(row.g, expected);
            assert.equal(row.h, createHash('md5').update(String(expected)).digest('hex'));
            expected += 1;
          }
        }
        await cursor.close();
        assert.deepEqual(batchSizes, Array(20).fill(500));
        assert.equal(expected, 10_001);
        assert.equal((await client.query('SELECT 7 AS v')).rows[0].v, 7, 'usable after the cursor');
      });
    },
  );

  test(
    'pg-copy-streams: COPY FROM STDIN of 100,000 streamed rows, COPY TO STDOUT byte-identical',
    LIMIT,
    async () => {
      await withClient(async (client) => {
        await client.query('CREATE TABLE fidelity_copy (id int PRIMARY KEY, label text NOT NULL)');
        const sent = createHash('sha256');
        function* rows(): Generator<string> {
          for (let start = 1; start <= 100_000; start += 1_000) {
            let chunk = '';
            for (let id = start; id < start + 1_000; id += 1) chunk += `${id}\trow ${id} é ✓\n`;
            sent.update(chunk);
            yield chunk;
          }
        }
        const ingest = client.query(copyFrom('COPY fidelity_copy (id, label) FROM STDIN'));
        await pipeline(Readable.from(rows()), ingest);
        assert.equal(ingest.rowCount, 100_000);

        const { rows: summary } = await client.query(
          'SELECT count(*)::int AS n, sum(id)::bigint AS s FROM fidelity_copy',
        );
        assert.deepEqual(summary, [{ n: 100_000, s: String((100_000 * 100_001) / 2) }]);

        const received = createHash('sha256');
        let lines = 0;
        const out = client.query(
          copyTo('COPY (SELECT id, label FROM fidelity_copy ORDER BY id) TO STDOUT'),
        );
        for await (const chunk of out as AsyncIterable<Buffer>) {
          received.update(chunk);
          for (const byte of chunk) if (byte === 0x0a) lines += 1;
        }
        assert.equal(lines, 100_000);
        assert.equal(out.rowCount, 100_000);
        assert.equal(
          received.digest('hex'),
          sent.digest('hex'),
          'COPY TO returns what COPY FROM sent',
        );
      });
    },
  );

  test(
    'a COPY FROM aborted mid-way sends CopyFail: 57014, no rows kept, the session goes on',
    LIMIT,
    async () => {
      await withClient(async (client) => {
        await client.query('CREATE TABLE fidelity_copy_abort (id int)');
        const ingest = client.query(copyFrom('COPY fidelity_copy_abort FROM STDIN'));
        const failed = new Promise<Error & { code?: string }>((resolve) =>
          ingest.once('error', resolve),
        );
        let batch = '';
        for (let id = 1; id <= 5_000; id += 1) batch += `${id}\n`;
        // The callback runs once the CopyData is on the socket, after CopyInResponse.
        await new Promise<void>((resolve, reject) =>
          ingest.write(batch, (err) => (err ? reject(err) : resolve())),
        );
        ingest.destroy(new Error('the producer gave up'));
        const error = await failed;
        assert.equal(error.code, '57014');
        assert.match(error.message, /the producer gave up/);
        const { rows } = await client.query('SELECT count(*)::int AS n FROM fidelity_copy_abort');
        assert.deepEqual(rows, [{ n: 0 }]);
        assert.equal(client.getTransactionStatus(), 'I');
      });
    },
  );

  test(
    'LISTEN/NOTIFY: notifications reach the listener in order, after commit only',
    LIMIT,
    async () => {
      const listener = await connect();
      const notifier = await connect();
      try {
        const received: Array<{ channel: string; payload: string | undefined }> = [];
        listener.on('notification', (msg) =>
          received.push({ channel: msg.channel, payload: msg.payload }),
        );
        await listener.query('LISTEN fidelity_events');
        const until = async (count: number) => {
          const deadline = Date.now() + 15_000;
          while (received.length < count && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        };
        await notifier.query("NOTIFY fidelity_events, 'first'");
        await until(1);
        assert.equal(received.length, 1, 'a notification to an idle listener arrives on its own');
        await notifier.query('BEGIN');
        await notifier.query("SELECT pg_notify('fidelity_events', $1)", ['second ✓']);
        // a round trip on the listener: nothing uncommitted may be delivered
        await listener.query('SELECT 1');
        assert.equal(received.length, 1, 'the uncommitted notification was not delivered');
        await notifier.query('COMMIT');
        await notifier.query("NOTIFY other_channel, 'ignored'");
        await notifier.query("NOTIFY fidelity_events, 'third'");
        await until(3);
        await listener.query('SELECT 1');
        assert.deepEqual(received, [
          { channel: 'fidelity_events', payload: 'first' },
          { channel: 'fidelity_events', payload: 'second ✓' },
          { channel: 'fidelity_events', payload: 'third' },
        ]);
      } finally {
        await listener.end();
        await notifier.end();
      }
    },
  );

  test(
    "NoticeResponse: RAISE NOTICE and WARNING arrive as 'notice' events with their fields",
    LIMIT,
    async () => {
      await withClient(async (client) => {
        const notices: Array<{
          severity?: string;
          code?: string;
          message?: string;
          detail?: string;
        }> = [];
        client.on('notice', (notice) =>
          notices.push({
            severity: notice.severity,
            code: notice.code,
            message: notice.message,
            detail: notice.detail,
          }),
        );
        const result = await client.query(`DO $$ BEGIN
        RAISE NOTICE 'hello %', 42;
        RAISE WARNING 'careful' USING DETAIL = 'some detail', ERRCODE = '01000';
      END $$`);
        assert.equal(result.command, 'DO');
        assert.deepEqual(notices, [
          { severity: 'NOTICE', code: '00000', message: 'hello 42', detail: undefined },
          { severity: 'WARNING', code: '01000', message: 'careful', detail: 'some detail' },
        ]);
      });
    },
  );

  test(
    'an error inside a transaction: 25P02 until ROLLBACK, then normal again',
    LIMIT,
    async () => {
      await withClient(async (client) => {
        // node-pg rejects at ErrorResponse, before ReadyForQuery carries the status; an
        // empty query (allowed even in a failed transaction) settles at ReadyForQuery.
        const status = async () => {
          await client.query('');
          return client.getTransactionStatus();
        };
        await client.query('CREATE TABLE fidelity_tx (id int PRIMARY KEY)');
        await client.query('BEGIN');
        assert.equal(client.getTransactionStatus(), 'T');
        await client.query('INSERT INTO fidelity_tx VALUES (1)');
        await assert.rejects(client.query('INSERT INTO fidelity_tx VALUES (1)'), { code: '23505' });
        assert.equal(await status(), 'E');
        await assert.rejects(client.query('SELECT 1'), { code: '25P02' });
        await assert.rejects(client.query('SELECT $1::int', [1]), { code: '25P02' });
        assert.equal(await status(), 'E');
        await client.query('ROLLBACK');
        assert.equal(client.getTransactionStatus(), 'I');
        const { rows } = await client.query('SELECT count(*)::int AS n FROM fidelity_tx');
        assert.deepEqual(rows, [{ n: 0 }], 'the insert before the error was rolled back');
      });
    },
  );

  test(
    'PROTO-04e: 1,000 pipelined simple queries in one write: every result, in order',
    LIMIT,
    async () => {
      const socket = await connectTls(postern.wirePort, ca);
      try {
        const { messages, stream } = await scramLogin(
          socket,
          { user: 'admin', database: 'admin/main' },
          ADMIN_PASSWORD,
        );
        assert.equal(messages.at(-1)!.type, 'Z');
        const batch = Buffer.concat(
          Array.from({ length: 1_000 }, (_, i) => message('Q', `SELECT 1 AS one, ${i} AS seq\0`)),
        );
        socket.write(batch);
        for (let i = 0; i < 1_000; i += 1) {
          const types: string[] = [];
          for (;;) {
            const msg = await stream.next();
            assert.ok(msg, `connection closed at query ${i}`);
            types.push(msg.type);
            if (msg.type === 'E')
              assert.fail(`query ${i}: ${JSON.stringify(errorFields(msg.body))}`);
            if (msg.type === 'D') {
              assert.equal(msg.body.readInt16BE(0), 2);
              const firstLength = msg.body.readInt32BE(2);
              const first = msg.body.toString('utf8', 6, 6 + firstLength);
              const second = msg.body.toString('utf8', 6 + firstLength + 4);
              assert.deepEqual([first, second], ['1', String(i)], `row of query ${i}`);
            }
            if (msg.type === 'C') assert.equal(msg.body.toString('utf8'), 'SELECT 1\0');
            if (msg.type === 'Z') {
              assert.equal(msg.body.toString(), 'I');
              break;
            }
          }
          assert.deepEqual(types, ['T', 'D', 'C', 'Z'], `messages of query ${i}`);
        }
        // still in step afterwards
        socket.write(message('Q', 'SELECT 2\0'));
        const tail: string[] = [];
        for (;;) {
          const msg = await stream.next();
          assert.ok(msg);
          tail.push(msg.type);
          if (msg.type === 'Z') break;
        }
        assert.deepEqual(tail, ['T', 'D', 'C', 'Z']);
        socket.write(message('X', ''));
        await stream.untilClosed();
      } finally {
        socket.destroy();
      }
    },
  );
});
