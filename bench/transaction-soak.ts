/**
 * A soak of transaction pooling: many concurrent clients of mixed traffic
 * (reads, write transactions some of which roll back, COPY FROM, statements
 * cancelled while they run) over a small pool, checked by content at the
 * end: every committed row exactly once, no rolled-back row, each client's
 * own count right at every read. RSS and latency percentiles over time.
 *
 *   npm run build && node dist/bench/transaction-soak.js [--clients 1000] [--seconds 600] [--pool 20]
 *
 * The long run writes its section of bench/RESULTS.md; `npm test` runs a
 * short one (test/e2e/transaction-soak.test.ts) through `runSoak`.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AdminHttp } from '../test/support/admin-http';
import { PosternProcess } from '../test/support/postern-process';
import { rssBytes } from './bench-processes';
import { writeResults } from './results';

type Kind = 'read' | 'write' | 'rollback' | 'copy' | 'cancel';
const KINDS: readonly Kind[] = ['read', 'write', 'read', 'rollback', 'read', 'copy', 'cancel'];

export interface SoakOptions {
  readonly clients: number;
  readonly seconds: number;
  /** A new client session on the soaked database (the table `soak_items` exists). */
  readonly connect: () => Promise<pg.Client>;
  /** The gateway's pid, for RSS samples. */
  readonly gatewayPid: number;
  /** Progress lines while it runs (every 10 s), for the long run. */
  readonly log?: (line: string) => void;
}

export interface SoakReport {
  readonly operations: Readonly<Record<Kind, number>>;
  /** Errors no operation expects (a cancel's 57014 is expected); empty when all went well. */
  readonly unexpected: readonly string[];
  readonly rows: {
    readonly committed: number;
    readonly found: number;
    readonly wrong: readonly string[];
  };
  /** Milliseconds, per kind: p50, p95, p99. */
  readonly latency: Readonly<Record<Kind, readonly [number, number, number]>>;
  /**
   * Over time: per slice of the soak (a tenth of it, at least 5 s), the
   * operations other than cancels (whose time includes the wait before the
   * cancel), [seconds into the soak at the slice's start, operations, p50, p95, p99 ms].
   */
  readonly latencyOverTime: ReadonlyArray<readonly [number, number, number, number, number]>;
  /** [seconds since the start, RSS in MiB]. */
  readonly rss: ReadonlyArray<readonly [number, number]>;
  /** How long the logins took, before the soak's own time. */
  readonly loginSeconds: number;
}

/**
 * No operation may take longer: a pool wait (POSTERN_POOL_TIMEOUT 60 s) plus a
 * cancelled 10 s sleep, with room to spare. One that does is reported and its
 * connection closed, so a lost answer fails the soak instead of hanging it.
 */
const STUCK_MS = 120_000;

/** Latency samples per kind, at most this many (a uniform reservoir): memory stays bounded. */
const RESERVOIR = 50_000;

class Latencies {
  private readonly samples: number[] = [];
  private seen = 0;

  get count(): number {
    return this.seen;
  }

  add(ms: number): void {
    this.seen++;
    if (this.samples.length < RESERVOIR) this.samples.push(ms);
    else {
      const at = Math.floor(Math.random() * this.seen);
      if (at < RESERVOIR) this.samples[at] = ms;
    }
  }

  percentiles(): [number, number, number] {
    const sorted = [...this.samples].sort((a, b) => a - b);
    const at = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    return [at(0.5), at(0.95), at(0.99)];
  }
}

/** One client's rows: what it committed, and the sequence numbers it rolled back. */
interface ClientLedger {
  committed: number;
  nextSeq: number;
  readonly rolledBack: Set<number>;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const operations = { read: 0, write: 0, rollback: 0, copy: 0, cancel: 0 };
  const latencies = Object.fromEntries(KINDS.map((kind) => [kind, new Latencies()])) as Record<
    Kind,
    Latencies
  >;
  const unexpected: string[] = [];
  const started = performance.now();
  const rss: Array<readonly [number, number]> = [];
  const sampleRss = async () =>
    rss.push([
      (performance.now() - started) / 1000,
      (await rssBytes(options.gatewayPid)) / 2 ** 20,
    ]);
  await sampleRss();
  const sampler = setInterval(() => void sampleRss(), Math.max(1000, options.seconds * 50));

  // Logins in batches: they are TLS + SCRAM, and the gateway bounds connections not yet logged in.
  const clients: pg.Client[] = [];
  for (let i = 0; i < options.clients; i += 50) {
    const batch = Math.min(50, options.clients - i);
    clients.push(...(await Promise.all(Array.from({ length: batch }, () => options.connect()))));
  }
  for (const client of clients)
    client.on('error', (err) => unexpected.push(`client: ${err.message}`));
  // The soak's time starts once everyone is logged in.
  const loginSeconds = (performance.now() - started) / 1000;
  const soakStart = performance.now();
  const deadline = soakStart + options.seconds * 1000;
  const sliceMs = Math.max(5, options.seconds / 10) * 1000;
  const slices: Latencies[] = [];
  const ledgers: ClientLedger[] = clients.map(() => ({
    committed: 0,
    nextSeq: 0,
    rolledBack: new Set(),
  }));

  // What each client is doing now, to find one whose operation never ends.
  const current: Array<{ kind: Kind; began: number } | null> = clients.map(() => null);
  const watchdog = setInterval(() => {
    const now = performance.now();
    const running = current.filter((op) => op !== null);
    options.log?.(
      `${((now - started) / 1000).toFixed(0)} s: ${Object.values(operations).reduce((a, b) => a + b, 0)} operations, ${unexpected.length} unexpected, ${running.length} clients busy`,
    );
    current.forEach((op, id) => {
      if (!op || now - op.began < STUCK_MS) return;
      unexpected.push(
        `${op.kind} by client ${id}: no answer in ${((now - op.began) / 1000).toFixed(0)} s`,
      );
      current[id] = null;
      // Its pending query then fails, and the client's loop ends.
      (
        clients[id] as unknown as { connection: { stream: net.Socket } }
      ).connection.stream.destroy();
    });
  }, 10_000);
  await Promise.all(
    clients.map(async (client, id) => {
      const ledger = ledgers[id]!;
      for (let turn = id; performance.now() < deadline; turn++) {
        const kind = KINDS[turn % KINDS.length]!;
        const began = performance.now();
        current[id] = { kind, began };
        try {
          await operation(kind, client, id, ledger);
          operations[kind]++;
          latencies[kind].add(performance.now() - began);
          if (kind !== 'cancel') {
            const slice = Math.floor((began - soakStart) / sliceMs);
            (slices[slice] ??= new Latencies()).add(performance.now() - began);
          }
        } catch (err) {
          if (current[id] === null) return; // the watchdog reported it and closed the connection
          unexpected.push(`${kind} by client ${id}: ${(err as Error).message}`);
          if (unexpected.length > 100) return;
        } finally {
          current[id] = null;
        }
      }
    }),
  );
  clearInterval(watchdog);
  clearInterval(sampler);
  await sampleRss();

  await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  const checker = await options.connect();
  const rows = await checkRows(checker, ledgers).finally(() => checker.end());
  return {
    operations,
    unexpected,
    rows,
    latency: Object.fromEntries(
      KINDS.map((kind) => [kind, latencies[kind].percentiles()]),
    ) as unknown as SoakReport['latency'],
    rss,
    loginSeconds,
    latencyOverTime: [...slices.entries()]
      .filter(([, slice]) => slice !== undefined)
      .map(([i, slice]) => [(i * sliceMs) / 1000, slice.count, ...slice.percentiles()]),
  };
}

async function operation(kind: Kind, client: pg.Client, id: number, ledger: ClientLedger) {
  switch (kind) {
    case 'read': {
      const { rows } = await client.query({
        name: 'soak-count',
        text: 'SELECT count(*)::int AS n FROM soak_items WHERE client = $1',
        values: [id],
      });
      if (rows[0].n !== ledger.committed) {
        throw new Error(`read ${rows[0].n} rows of its own, committed ${ledger.committed}`);
      }
      return;
    }
    case 'write':
    case 'rollback': {
      await client.query('BEGIN');
      const seqs = [ledger.nextSeq++, ledger.nextSeq++, ledger.nextSeq++];
      for (const seq of seqs) {
        await client.query({
          name: 'soak-insert',
          text: 'INSERT INTO soak_items (client, seq) VALUES ($1, $2)',
          values: [id, seq],
        });
      }
      if (kind === 'write') {
        await client.query('COMMIT');
        ledger.committed += seqs.length;
      } else {
        await client.query('ROLLBACK');
        for (const seq of seqs) ledger.rolledBack.add(seq);
      }
      return;
    }
    case 'copy': {
      const seqs = Array.from({ length: 5 }, () => ledger.nextSeq++);
      const stream = client.query(copyFrom('COPY soak_items (client, seq) FROM STDIN'));
      await new Promise<void>((resolve, reject) => {
        stream.on('finish', resolve);
        stream.on('error', reject);
        stream.end(seqs.map((seq) => `${id}\t${seq}\n`).join(''));
      });
      ledger.committed += seqs.length;
      return;
    }
    case 'cancel': {
      // Settled at once: the cancel may fail it before it is awaited.
      let settled = false;
      const running = client.query('SELECT pg_sleep(10)').then(
        () => null,
        (err: { code?: string }) => err,
      );
      void running.then(() => (settled = true));
      // As PostgreSQL does, a backend drops a cancel that arrives before it has read the
      // statement; on a loaded machine 20 ms may not be enough, so the cancel is repeated
      // (as a user presses Ctrl+C again) while the statement has not ended.
      for (let attempt = 0; attempt < 10 && !settled; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, attempt === 0 ? 20 : 200));
        if (!settled) await sendCancel(client);
      }
      const outcome = await running;
      if (!outcome) throw new Error('the cancelled statement completed');
      if (outcome.code !== '57014') throw outcome;
      return;
    }
  }
}

/** Every committed row exactly once, no rolled-back one, nothing else. */
async function checkRows(
  client: pg.Client,
  ledgers: readonly ClientLedger[],
): Promise<SoakReport['rows']> {
  const { rows } = await client.query<{ client: number; seq: number; n: number }>(
    'SELECT client, seq, count(*)::int AS n FROM soak_items GROUP BY client, seq',
  );
  const wrong: string[] = [];
  const perClient = new Map<number, number>();
  for (const row of rows) {
    if (row.n !== 1) wrong.push(`client ${row.client} seq ${row.seq} ${row.n} times`);
    if (ledgers[row.client]?.rolledBack.has(row.seq)) {
      wrong.push(`client ${row.client} seq ${row.seq} was rolled back`);
    }
    perClient.set(row.client, (perClient.get(row.client) ?? 0) + row.n);
  }
  ledgers.forEach((ledger, id) => {
    const found = perClient.get(id) ?? 0;
    if (found !== ledger.committed)
      wrong.push(`client ${id}: ${found} rows, committed ${ledger.committed}`);
  });
  const committed = ledgers.reduce((sum, ledger) => sum + ledger.committed, 0);
  return { committed, found: rows.length, wrong: wrong.slice(0, 20) };
}

/** A CancelRequest for the client's running statement, as libpq's PQcancel sends it. */
async function sendCancel(client: pg.Client): Promise<void> {
  const { processID, secretKey, host, port } = client as unknown as {
    processID: number;
    secretKey: number;
    host: string;
    port: number;
  };
  const request = Buffer.alloc(16);
  request.writeInt32BE(16, 0);
  request.writeInt32BE(80877102, 4);
  request.writeInt32BE(processID, 8);
  request.writeInt32BE(secretKey, 12);
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, host, () => socket.end(request));
    // The gateway may answer (a 53300 when too many connections are not yet logged in): read
    // it, or the socket never ends and never closes.
    socket.resume();
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

/** A gateway with `alice/soak` in transaction mode over a pool of `pool`, and how to connect to it. */
export async function startSoakGateway(pool: number, clients: number) {
  const postern = await PosternProcess.start({
    env: {
      POSTERN_POOL_SIZE: String(pool),
      POSTERN_POOL_SIZE_PER_USER: String(pool),
      POSTERN_POOL_TIMEOUT: '60s',
      POSTERN_MAX_CONNECTIONS: String(clients + 10),
      POSTERN_MAX_CONNECTIONS_PER_USER: String(clients + 10),
      POSTERN_LOG_LEVEL: 'warn',
    },
  });
  const http = AdminHttp.of(postern);
  const api = await http.session();
  const { alice } = await http.createUsers(api.token, ['alice']);
  for (const [method, path, body] of [
    ['POST', '/databases', { owner: 'alice', name: 'soak' }],
    ['PUT', '/databases/alice/soak/limits', { poolMode: 'transaction' }],
  ] as const) {
    const answer = await http.call(method, path, { token: alice, body });
    if (answer.status >= 300) throw new Error(`${method} ${path}: ${JSON.stringify(answer.body)}`);
  }
  const connect = () =>
    postern.connect({ user: 'alice', password: 'alice-password', database: 'alice/soak' });
  const setup = await connect();
  await setup.query('CREATE TABLE soak_items (client int NOT NULL, seq int NOT NULL)');
  // Each read counts one client's rows: without an index it scans a table that grows all
  // along the soak, and latency would measure that instead of the pooling.
  await setup.query('CREATE INDEX soak_items_client ON soak_items (client)');
  await setup.end();
  return { postern, connect };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '600' },
      pool: { type: 'string', default: '20' },
    },
  });
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  const pool = Number(values.pool);
  const { postern, connect } = await startSoakGateway(pool, clients);
  try {
    const report = await runSoak({
      clients,
      seconds,
      connect,
      gatewayPid: postern.pid,
      log: (line) => console.log(line),
    });
    const total = Object.values(report.operations).reduce((a, b) => a + b, 0);
    const lines = [
      '| kind | operations | p50 ms | p95 ms | p99 ms |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...(Object.keys(report.operations) as Kind[]).map((kind) => {
        const [p50, p95, p99] = report.latency[kind];
        return `| ${kind} | ${report.operations[kind].toLocaleString('en')} | ${p50.toFixed(1)} | ${p95.toFixed(1)} | ${p99.toFixed(1)} |`;
      }),
    ];
    const rssLine = report.rss.map(([t, mb]) => `${t.toFixed(0)} s: ${mb.toFixed(0)}`).join(', ');
    await writeResults('Transaction pooling soak (issue 14)', lines.join('\n'), [
      `Command: \`node dist/bench/transaction-soak.js --clients ${clients} --seconds ${seconds} --pool ${pool}\`: ${clients.toLocaleString('en')} node-postgres clients over TLS (SCRAM) on one database in transaction mode, pool of ${pool}, for ${seconds} s; each client cycles read (a named prepared count of its own rows, checked against what it committed), write (BEGIN, 3 named prepared INSERTs, COMMIT), rollback (the same, ROLLBACK), COPY FROM of 5 rows, and a pg_sleep cancelled after 20 ms (57014 expected).`,
      `${total.toLocaleString('en')} operations, ${report.unexpected.length} unexpected errors${report.unexpected.length ? ` (first: ${report.unexpected[0]})` : ''}.`,
      `Rows by content at the end: ${report.rows.committed.toLocaleString('en')} committed, ${report.rows.found.toLocaleString('en')} found, ${report.rows.wrong.length} wrong${report.rows.wrong.length ? ` (${report.rows.wrong.slice(0, 3).join('; ')})` : ''}.`,
      `Logins of the ${clients.toLocaleString('en')} clients (TLS + SCRAM, 50 at a time) took ${report.loginSeconds.toFixed(0)} s before the soak's ${seconds} s.`,
      `Gateway RSS (MiB) over time, seconds from the first login: ${rssLine}.`,
      `Latency over time (every kind but cancel; seconds into the soak: operations, p50 / p95 / p99 ms): ${report.latencyOverTime.map(([t, n, p50, p95, p99]) => `${t.toFixed(0)} s: ${n.toLocaleString('en')}, ${p50.toFixed(1)} / ${p95.toFixed(1)} / ${p99.toFixed(1)}`).join('; ')}.`,
      'Clients, gateway and PostgreSQL share the 2-core machine: latencies include the clients’ own CPU.',
    ]);
    console.log(JSON.stringify({ ...report, rss: report.rss.slice(-3) }, null, 2));
  } finally {
    await postern.dispose();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
