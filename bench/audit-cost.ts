/**
 * What auditing every wire statement costs the relay: pgbench select-only
 * (simple / extended / prepared) through one gateway with statement audit on
 * and off, in interleaved rounds, the order rotated per round.
 *
 *   npm run build && node dist/bench/audit-cost.js [--seconds 10] [--rounds 3] [--clients 10]
 *
 * One gateway and one PostgreSQL for both: `[audit] statements` in its
 * postern.toml is switched with SIGHUP between runs (it applies to new
 * sessions, and pgbench opens its own), so the comparison shares the process,
 * the cluster, the data and the cache. Then, in-process, what following and
 * recording one statement costs the gateway (the relay's calls, the event, its
 * share of the batch's JSON), which a busy machine disturbs far less than
 * throughput. Writes its section of bench/RESULTS.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { statementSession } from '../apps/server/src/audit/statement-audit.service';
import { StatementAudit } from '../apps/server/src/wire/session/statement-audit';
import { BackendType as BE, FrontendType as FE } from '#wire';
import { copyChunks, StatementSession, type StatementRecord } from '#control';
import { run } from '../test/support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../test/support/postern-process';
import { clusterCpuMs, median, processCpuMs } from './bench-processes';
import { writeResults } from './results';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '10' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CLIENTS = Number(args.clients);
const MODES = ['simple', 'extended', 'prepared'] as const;
const SETTINGS = ['off', 'on'] as const;
type Mode = (typeof MODES)[number];
type Setting = (typeof SETTINGS)[number];

interface Run {
  readonly tps: number;
  readonly transactions: number;
  readonly gatewayCpuMs: number;
  readonly clusterCpuMs: number;
  /** Of which the backends of the gateway's control-plane pool (the audit writes, a few logins). */
  readonly writerCpuMs: number;
}

/** CPU so far of each backend of the gateway's control-plane pool, which writes the audit rows. */
async function writerBackendsCpuMs(control: Client): Promise<Map<number, number>> {
  const { rows } = await control.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'postern logins'",
  );
  const cpu = new Map<number, number>();
  for (const { pid } of rows) {
    const ms = await processCpuMs(pid).catch(() => null);
    if (ms !== null) cpu.set(pid, ms);
  }
  return cpu;
}

async function postmasterPid(postern: PosternProcess): Promise<number> {
  const pid = await readFile(path.join(postern.workDir, 'data', 'pg', 'postmaster.pid'), 'utf8');
  return Number(pid.split('\n')[0]);
}

/** Rewrites postern.toml and reloads; waits for the reload line naming the change. */
async function switchAudit(postern: PosternProcess, setting: Setting): Promise<void> {
  await writeFile(
    path.join(postern.workDir, 'postern.toml'),
    `[audit]\nstatements = "${setting}"\n`,
  );
  const before = postern.logMessages.split('SIGHUP').length;
  process.kill(postern.pid, 'SIGHUP');
  const deadline = Date.now() + 10_000;
  while (postern.logMessages.split('SIGHUP').length === before) {
    if (Date.now() > deadline) throw new Error('the gateway did not report the reload');
    await sleep(50);
  }
}

async function pgbench(postern: PosternProcess, extra: readonly string[]): Promise<string> {
  const conninfo = `host=127.0.0.1 port=${postern.wirePort} user=admin dbname=admin/main sslmode=disable`;
  const result = await run('pgbench', ['-n', ...extra, conninfo], {
    env: { PGPASSWORD: ADMIN_PASSWORD },
    timeoutMs: (SECONDS + 300) * 1000,
  });
  if (result.code !== 0) throw new Error(`pgbench failed: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/**
 * Waits until the run's audit rows are written (the id sequence both audit
 * tables draw from stands still for longer than a batch waits), so that
 * their CPU counts in this run and not in the next.
 */
async function auditSettled(control: Client): Promise<void> {
  let last = -1;
  for (;;) {
    const { rows } = await control.query<{ value: string }>(
      'SELECT last_value AS value FROM public.audit_event_id_seq',
    );
    if (Number(rows[0]!.value) === last) return;
    last = Number(rows[0]!.value);
    await sleep(500);
  }
}

async function measure(
  postern: PosternProcess,
  control: Client,
  cluster: number,
  mode: Mode,
): Promise<Run> {
  const writersBefore = await writerBackendsCpuMs(control);
  const gatewayBefore = await processCpuMs(postern.pid);
  const clusterBefore = await clusterCpuMs(cluster);
  const out = await pgbench(postern, [
    '-S',
    '-M',
    mode,
    '-c',
    String(CLIENTS),
    '-j',
    '2',
    '-T',
    String(SECONDS),
  ]);
  await auditSettled(control);
  const gatewayCpuMs = (await processCpuMs(postern.pid)) - gatewayBefore;
  const clusterCpu = (await clusterCpuMs(cluster)) - clusterBefore;
  return {
    tps: Number(/tps = ([\d.]+)/.exec(out)![1]),
    transactions: Number(/actually processed: (\d+)/.exec(out)![1]),
    gatewayCpuMs,
    clusterCpuMs: clusterCpu,
    writerCpuMs: [...(await writerBackendsCpuMs(control))].reduce(
      (sum, [pid, ms]) => sum + ms - (writersBefore.get(pid) ?? 0),
      0,
    ),
  };
}

/** The superuser on the gateway's control plane database. */
async function controlClient(postern: PosternProcess): Promise<Client> {
  const dataDir = path.join(postern.workDir, 'data');
  const pid = (await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n');
  const client = new Client({
    host: '127.0.0.1',
    port: Number(pid[3]),
    user: 'postgres',
    password: (await readFile(path.join(dataDir, 'secrets', 'superuser-password'), 'utf8')).trim(),
    database: 'postern_control',
  });
  await client.connect();
  return client;
}

async function auditRows(control: Client): Promise<number> {
  const { rows } = await control.query<{ n: string }>(
    'SELECT count(*) AS n FROM public.statement_event',
  );
  return Number(rows[0]!.n);
}

async function droppedEvents(postern: PosternProcess): Promise<number> {
  const base = `http://127.0.0.1:${postern.httpPort}`;
  const login = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };
  const text = await (
    await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  ).text();
  return Number(/^postern_audit_dropped_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
}

function frame(type: number, body: string): Buffer {
  const payload = Buffer.from(body);
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

/**
 * Nanoseconds per simple-Query statement: the relay's audit calls only
 * (`follow`), plus queueing its row (`event`), plus its share of the
 * batch's COPY text (`copy`): what the gateway spends besides the
 * socket write of the batch. Median of 7 rounds of 200,000.
 */
function inProcessNanos(): { follow: number; event: number; copy: number } {
  const query = frame(FE.Query, 'SELECT abalance FROM pgbench_accounts WHERE aid = 12345;\0');
  const complete = frame(BE.CommandComplete, 'SELECT 1\0');
  const ready = frame(BE.ReadyForQuery, 'I');
  const context = {
    sessionId: 12345,
    user: 'admin',
    userId: '00000000-0000-4000-8000-000000000000',
    tokenId: null,
    authMethod: 'SCRAM-SHA-256-PLUS',
    databaseId: '00000000-0000-4000-8000-000000000001',
    database: 'admin/main',
    level: 'owner',
    clientAddress: '127.0.0.1',
    applicationName: 'pgbench',
  };
  const time = (report: ConstructorParameters<typeof StatementAudit>[0]) => {
    const audit = new StatementAudit(report);
    const rounds: number[] = [];
    for (let round = 0; round <= 7; round++) {
      const start = performance.now();
      for (let i = 0; i < 200_000; i++) {
        audit.client(FE.Query, query);
        audit.upstream(BE.CommandComplete, complete);
        audit.upstream(BE.ReadyForQuery, ready);
      }
      if (round > 0) rounds.push(((performance.now() - start) * 1e6) / 200_000);
    }
    return median(rounds);
  };
  // The session's columns are made once per session, as the gateway does.
  const session = StatementSession.of(statementSession(context));
  const sessions: StatementSession[] = [];
  const statements: StatementRecord[] = [];
  return {
    follow: time(() => undefined),
    event: time((statement) => {
      sessions.push(session);
      statements.push(statement);
      if (statements.length >= 1000) sessions.length = statements.length = 0;
    }),
    copy: time((statement) => {
      sessions.push(session);
      statements.push(statement);
      if (statements.length >= 1000) {
        copyChunks(sessions, statements, null);
        sessions.length = statements.length = 0;
      }
    }),
  };
}

function rotated<T>(items: readonly T[], shift: number): T[] {
  const k = shift % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function main(): Promise<void> {
  const postern = await PosternProcess.start({
    env: {
      POSTERN_LOG_LEVEL: 'warn',
      POSTERN_TLS: 'prefer',
      POSTERN_POOL_SIZE: String(CLIENTS + 10),
      POSTERN_POOL_SIZE_PER_USER: String(CLIENTS + 10),
    },
  });
  try {
    const cluster = await postmasterPid(postern);
    const control = await controlClient(postern);
    const load: number[] = [];
    await pgbench(postern, ['-i', '-s', '10', '-q']);
    const samples = new Map<string, Run[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of MODES) {
        for (const setting of rotated(SETTINGS, round + MODES.indexOf(mode))) {
          await switchAudit(postern, setting);
          const result = await measure(postern, control, cluster, mode);
          load.push(loadavg()[0]!);
          const key = `${mode} ${setting}`;
          samples.set(key, [...(samples.get(key) ?? []), result]);
          console.log(
            `round ${round + 1} ${key}: ${result.tps.toFixed(0)} tps, ` +
              `${((result.gatewayCpuMs * 1000) / result.transactions).toFixed(1)} µs gateway CPU/tx`,
          );
        }
      }
    }
    const rows = await auditRows(control);
    await control.end();
    const dropped = await droppedEvents(postern);
    const of = (mode: Mode, setting: Setting, pick: (run: Run) => number) =>
      median(samples.get(`${mode} ${setting}`)!.map(pick));
    const tps = (run: Run) => run.tps;
    const gatewayUs = (run: Run) => (run.gatewayCpuMs * 1000) / run.transactions;
    const clusterUs = (run: Run) => (run.clusterCpuMs * 1000) / run.transactions;
    const writerUs = (run: Run) => (run.writerCpuMs * 1000) / run.transactions;
    const lines = [
      '| pgbench -S, mode | TPS audit off | TPS audit on | TPS change | gateway CPU/tx off → on | PostgreSQL CPU/tx off → on | of which the audit writes, on |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...MODES.map((mode) => {
        const off = of(mode, 'off', tps);
        const on = of(mode, 'on', tps);
        return (
          `| ${mode} | ${off.toFixed(0)} | ${on.toFixed(0)} | ${(((on - off) / off) * 100).toFixed(1)} % | ` +
          `${of(mode, 'off', gatewayUs).toFixed(1)} → ${of(mode, 'on', gatewayUs).toFixed(1)} µs | ` +
          `${of(mode, 'off', clusterUs).toFixed(1)} → ${of(mode, 'on', clusterUs).toFixed(1)} µs | ` +
          `${of(mode, 'on', writerUs).toFixed(1)} µs |`
        );
      }),
    ];
    const nanos = inProcessNanos();
    lines.push(
      '',
      '| in-process, per audited simple-Query statement | gateway CPU |',
      '| --- | --- |',
      `| the relay's audit calls (text copied, result matched) | ${nanos.follow.toFixed(0)} ns |`,
      `| + its row queued | ${nanos.event.toFixed(0)} ns |`,
      `| + its line of the batch's COPY text | ${nanos.copy.toFixed(0)} ns |`,
    );
    console.log(lines.join('\n'));
    await writeResults('Statement audit cost on the relay', lines.join('\n'), [
      `Command: \`npm run build && node dist/bench/audit-cost.js --seconds ${SECONDS} --rounds ${ROUNDS} --clients ${CLIENTS}\`; medians over ${ROUNDS} rounds, audit off and on interleaved, the order rotated per round and mode.`,
      `pgbench 15 -n -S (scale 10), -c ${CLIENTS} -j 2 -T ${SECONDS}, plaintext (the relay, not TLS, is measured), one gateway and one PostgreSQL for both settings: \`[audit] statements\` switched in postern.toml with SIGHUP between runs.`,
      'With audit on, simple and extended write one `wire.query` row per statement (one COPY of up to 1000 rows into `statement_event` at most 100 ms after the first, into the same PostgreSQL, whose CPU per transaction includes them); prepared writes one row per prepared statement and session (its executions counted), so almost nothing.',
      `${rows} \`wire.query\` rows written in the run, ${dropped} dropped for a full queue (\`postern_audit_dropped_total\`).`,
      'Gateway CPU: utime + stime of the gateway process over the run (until its audit rows are all written) divided by the transactions; PostgreSQL CPU likewise for the postmaster and its children.',
      "The audit writes: CPU of the PostgreSQL backends of the gateway's control-plane pool (`application_name` `postern logins`: the audit INSERTs or COPYs and the few login queries of the run) over the run, per transaction; the WAL writer, checkpointer and autovacuum work the rows cause is in the PostgreSQL column only.",
      `The machine (2 cores) was shared with other work during the run (1-minute load average ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)} at the ends of the runs): pgbench, the gateway and PostgreSQL compete for the cores and TPS moves by tens of percent between identical runs (prepared, which writes almost nothing with audit on, shows that noise floor); the CPU per transaction and the in-process table are the steadier measures.`,
    ]);
  } finally {
    await postern.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
