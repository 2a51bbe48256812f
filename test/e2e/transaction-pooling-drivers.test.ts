import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { AdminHttp } from '../support/admin-http';
import { DEBIAN_PYTHON } from '../support/clients';
import { ControlFixtures } from '../support/control-fixtures';
import {
  buildGo,
  runSection,
  script,
  type DriverGateway,
  type DriverProgram,
} from '../support/drivers';
import { compileJava } from '../support/java';
import { PosternProcess } from '../support/postern-process';
import Cursor from 'pg-cursor';

/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 60_000 };
const POOL_SIZE = 3;

/**
 * Transaction pooling under real drivers (TXN-1x): each driver's program
 * runs many client connections at once against a transaction-mode database
 * whose pool has 3 connections, with server-side prepared statements
 * executed over and over, explicit transactions that commit or roll back,
 * and a session setting that must follow its client; then checks every row
 * by content and prints one JSON summary. Meanwhile the database's
 * backends are sampled: never more than the pool's size.
 */
describe('transaction pooling under real drivers (TXN)', () => {
  let postern: PosternProcess;
  let gateway: DriverGateway;
  let fixtures: ControlFixtures;
  let physicalName: string;
  let go: Awaited<ReturnType<typeof buildGo>>;
  let java: DriverProgram;

  before(async () => {
    postern = await PosternProcess.start({
      env: {
        POSTERN_POOL_SIZE: String(POOL_SIZE),
        POSTERN_POOL_SIZE_PER_USER: String(POOL_SIZE),
        POSTERN_POOL_TIMEOUT: '30s',
      },
    });
    const api = await AdminHttp.of(postern).session();
    const limits = await api.request('PUT', '/databases/admin/main/limits', {
      poolMode: 'transaction',
    });
    assert.equal(limits.status, 200, JSON.stringify(limits.body));
    const { token } = await api.createToken('admin', { name: 'transaction pooling drivers' });
    gateway = { postern, token };
    fixtures = await ControlFixtures.connect(postern);
    physicalName = (await fixtures.database('admin', 'main')).physicalName;
    const setup = await postern.connect();
    await setup.query(
      'CREATE TABLE hammer (driver text, client int, seq int, PRIMARY KEY (driver, client, seq))',
    );
    await setup.query('CREATE SEQUENCE hammer_ids');
    await setup.end();
    [go, java] = await Promise.all([buildGo('txnhammer'), compileJava('TxnHammer')]);
  });
  after(async () => {
    await go?.dispose();
    await fixtures?.close();
    await postern?.dispose();
  });

  /** Backends on the database now (the pool's connections, busy or idle). */
  const backends = () =>
    fixtures.superuser('postgres', async (client) => {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
        [physicalName],
      );
      return rows[0]!.n;
    });

  /**
   * Runs `hammer` while sampling the database's backends back to back;
   * its summary and the most backends seen at once.
   */
  async function sampled<T>(hammer: () => Promise<T>): Promise<{ out: T; maxBackends: number }> {
    let running = true;
    let maxBackends = 0;
    const sampler = (async () => {
      while (running) maxBackends = Math.max(maxBackends, await backends());
    })();
    try {
      const out = await hammer();
      return { out, maxBackends };
    } finally {
      running = false;
      await sampler;
    }
  }

  const python = script(DEBIAN_PYTHON, ['python', 'txn_hammer.py']);

  /**
   * Runs a hammer and checks its summary: no client failed, every
   * committed row there once and no rolled-back one, all transactions run,
   * the insert named upstream (the driver prepared it server-side) or not,
   * and never more backends than the pool has.
   */
  async function hammered(
    t: TestContext,
    hammer: () => Promise<HammerSummary>,
    expected: { transactions: number; rows: number; namedUpstream: boolean },
  ): Promise<void> {
    const { out, maxBackends } = await sampled(hammer);
    t.diagnostic(`${JSON.stringify(out)}, max backends ${maxBackends}`);
    assert.deepEqual(out.errors, []);
    assert.equal(out.rows_as_committed, true, 'rows exactly as committed');
    assert.equal(out.transactions, expected.transactions);
    assert.equal(out.rows, expected.rows);
    assert.equal(out.upstream_named_insert > 0, expected.namedUpstream, 'named upstream');
    assert.ok(maxBackends >= 1 && maxBackends <= POOL_SIZE, `${maxBackends} backends`);
  }

  test(
    'TXN-10 psycopg 3: 12 clients, every statement prepared server-side (prepare_threshold=0), over 3 connections',
    LIMIT,
    (t) =>
      hammered(t, () => runSection(python, gateway, 'psycopg3'), {
        transactions: 12 * 25,
        rows: 12 * 19,
        namedUpstream: true,
      }),
  );

  test(
    'TXN-15 psycopg 3 in pipeline mode: BEGIN, insert and count of each round sent together as prepared statements, over 3 connections',
    LIMIT,
    (t) =>
      hammered(t, () => runSection(python, gateway, 'psycopg3-pipeline'), {
        transactions: 12 * 25,
        rows: 12 * 19,
        namedUpstream: true,
      }),
  );

  test(
    'TXN-11 psycopg2: 12 clients, parameterised statements in transactions, over 3 connections',
    LIMIT,
    (t) =>
      hammered(t, () => runSection(python, gateway, 'psycopg2'), {
        transactions: 12 * 25,
        rows: 12 * 19,
        namedUpstream: false,
      }),
  );

  test(
    'TXN-12 lib/pq: 16 goroutines on connections of their own plus a pooled db.Prepare statement, over 3 connections',
    LIMIT,
    (t) =>
      hammered(t, () => runSection(go.program, gateway, 'hammer'), {
        transactions: 16 * 25,
        rows: 16 * 19,
        namedUpstream: true,
      }),
  );

  test(
    'TXN-17 lib/pq with binary_parameters=yes: the same hammer, parameters in binary',
    LIMIT,
    (t) =>
      hammered(t, () => runSection(go.program, gateway, 'binary'), {
        transactions: 16 * 25,
        rows: 16 * 19,
        namedUpstream: true,
      }),
  );

  test(
    'TXN-13 pgJDBC: 12 clients past prepareThreshold (1 and the default 5), batches in transactions, over 3 connections',
    LIMIT,
    (t) =>
      hammered(
        t,
        async () => {
          const url = `jdbc:postgresql://localhost:${postern.wirePort}/admin%2Fmain`;
          const result = await java([url, 'admin', gateway.token, postern.caFile]);
          assert.equal(result.code, 0, `${result.stderr}\n${result.stdout}`);
          return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
        },
        { transactions: 12 * 25, rows: 12 * 19 * 2, namedUpstream: true },
      ),
  );

  test(
    'TXN-14 node-postgres: 16 clients, named and unnamed parameterised statements queued without waiting, currval() after nextval(), a cursor, over 3 connections',
    LIMIT,
    (t) =>
      hammered(t, () => nodeHammer(postern), {
        transactions: 16 * 25,
        rows: 16 * 19,
        namedUpstream: true,
      }),
  );

  test('TXN-16 refusals of parameterised statements name the reason (0A000), judged in the transaction that executes them', async () => {
    const client = await postern.connect();
    try {
      const refused = { code: '0A000', message: /not supported in transaction pooling mode/ };
      await assert.rejects(client.query('SELECT pg_advisory_lock($1)', [1]), refused);
      await client.query('BEGIN');
      await client.query('SELECT nextval($1::regclass)', ['hammer_ids']);
      const current = {
        name: 'current-id',
        text: 'SELECT currval($1::regclass) AS v',
        values: ['hammer_ids'],
      };
      await client.query(current);
      await client.query('COMMIT');
      // The same prepared currval() in a transaction without nextval(): another client's value.
      await assert.rejects(client.query(current), refused);
      assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
    } finally {
      await client.end();
    }
  });
});

/** What each hammer program prints. */
interface HammerSummary {
  readonly clients: number;
  readonly transactions: number;
  readonly statements: number;
  readonly errors: string[];
  readonly rows_as_committed: boolean;
  readonly rows: number;
  readonly upstream_named_insert: number;
}

/** The insert prepared under a gateway's name on the upstream connection this runs on. */
const UPSTREAM_NAMED =
  "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'postern%' AND statement LIKE $1";

/**
 * The node-postgres hammer, as the other drivers' programs: 16 clients,
 * each sets its application_name, then runs 25 transactions in which the
 * insert (a named statement) and the count (an unnamed parameterised one)
 * are queued together without waiting for each other, then nextval() and
 * currval() (parameterised); commit, every fourth
 * rolled back; between transactions a named statement outside any, and
 * its rows read through a cursor (pg-cursor: Execute with a row limit and
 * Flush, the portal open across round trips until its Sync).
 */
async function nodeHammer(postern: PosternProcess): Promise<HammerSummary> {
  const CLIENTS = 16;
  const ROUNDS = 25;
  const committed = (round: number) => round % 4 !== 3;
  let transactions = 0;
  let statements = 0;
  const hammer = async (number: number) => {
    const me = `node-${number}`;
    const client = await postern.connect();
    try {
      await client.query(`SET application_name = '${me}'`);
      statements++;
      let mine = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const [, , counted] = await Promise.all([
          client.query('BEGIN'),
          client.query({
            name: 'hammer-insert',
            text: 'INSERT INTO hammer (driver, client, seq) VALUES ($1, $2, $3) /* node-postgres */',
            values: ['node-postgres', number, round],
          }),
          client.query<{ n: number; app: string }>(
            "SELECT count(*)::int AS n, current_setting('application_name') AS app FROM hammer WHERE driver = $1 AND client = $2",
            ['node-postgres', number],
          ),
        ]);
        statements += 3;
        const { n, app } = counted.rows[0]!;
        if (n !== mine + 1 || app !== me) {
          throw new Error(`round ${round}: saw ${n} rows as ${app}, expected ${mine + 1} as ${me}`);
        }
        // currval() after nextval() in the transaction, both parameterised (extended protocol):
        // its own value, whichever clients share the connection.
        const [next, current] = await Promise.all([
          client.query<{ v: string }>({
            name: 'hammer-next',
            text: 'SELECT nextval($1::regclass) AS v',
            values: ['hammer_ids'],
          }),
          client.query<{ v: string }>('SELECT currval($1::regclass) AS v', ['hammer_ids']),
        ]);
        statements += 2;
        if (current.rows[0]!.v !== next.rows[0]!.v) {
          throw new Error(`round ${round}: currval ${current.rows[0]!.v} after ${next.rows[0]!.v}`);
        }
        await client.query(committed(round) ? 'COMMIT' : 'ROLLBACK');
        if (committed(round)) mine++;
        transactions++;
        const doubled = await client.query<{ d: number }>({
          name: 'hammer-double',
          text: 'SELECT $1::int * 2 AS d',
          values: [round],
        });
        statements += 2;
        if (doubled.rows[0]!.d !== 2 * round) throw new Error(`round ${round}: doubled`);
        // Its rows through a cursor read 4 at a time: Execute and Flush, no Sync, until the end.
        const cursor = client.query(
          new Cursor('SELECT seq FROM hammer WHERE driver = $1 AND client = $2 ORDER BY seq', [
            'node-postgres',
            number,
          ]),
        );
        const seqs: number[] = [];
        for (let batch = await cursor.read(4); batch.length > 0; batch = await cursor.read(4)) {
          seqs.push(...batch.map((row: { seq: number }) => row.seq));
        }
        await cursor.close();
        statements++;
        const expected = Array.from({ length: round + 1 }, (_, r) => r).filter(committed);
        if (seqs.join() !== expected.join()) throw new Error(`round ${round}: cursor saw ${seqs}`);
      }
    } finally {
      await client.end();
    }
  };
  const outcomes = await Promise.allSettled(Array.from({ length: CLIENTS }, (_, n) => hammer(n)));
  const errors = outcomes
    .map((outcome, n) => (outcome.status === 'rejected' ? `client ${n}: ${outcome.reason}` : null))
    .filter((error): error is string => error !== null)
    .slice(0, 5);
  const check = await postern.connect();
  try {
    const { rows } = await check.query<{ client: number; seqs: number[] }>(
      'SELECT client, array_agg(seq ORDER BY seq) AS seqs FROM hammer WHERE driver = $1 GROUP BY client ORDER BY client',
      ['node-postgres'],
    );
    const expected = Array.from({ length: CLIENTS }, (_, client) => ({
      client,
      seqs: Array.from({ length: ROUNDS }, (_, round) => round).filter(committed),
    }));
    return {
      clients: CLIENTS,
      transactions,
      statements,
      errors,
      rows_as_committed: JSON.stringify(rows) === JSON.stringify(expected),
      rows: rows.reduce((sum, row) => sum + row.seqs.length, 0),
      upstream_named_insert: (
        await check.query<{ n: number }>(UPSTREAM_NAMED, ['%/* node-postgres */%'])
      ).rows[0]!.n,
    };
  } finally {
    await check.end();
  }
}
