/**
 * Long mode of the wire-protocol fuzzer (the short slice runs in `npm test`,
 * test/e2e/fuzz-wire.test.ts).
 *
 *   npm run build && node dist/bench/fuzz-wire.js [cases] [--seed N] [--concurrency N]
 *   node dist/bench/fuzz-wire.js --seed N --print I    # case I of seed N, as hex writes
 *
 * Mutates the recorded psql, psycopg2, pgJDBC and node-postgres sessions in
 * test/fuzz/corpus against the real gateway (pre-auth and, after a real
 * SCRAM login, relay), checks after every batch that the process is alive
 * and that a fresh login answers `select 1`, and writes cases run, crashes,
 * hangs and the gateway's peak RSS to bench/RESULTS.md.
 */
import { describeCase, generateCase, splicePool } from '../test/fuzz/cases';
import {
  formatFinding,
  FUZZ_GATEWAY_ENV,
  memoryOf,
  runCampaign,
  type Finding,
} from '../test/fuzz/campaign';
import { loadCorpus } from '../test/fuzz/corpus';
import { randomSeed } from '../test/fuzz/prng';
import { ADMIN_PASSWORD, PosternProcess } from '../test/support/postern-process';
import { writeResults } from './results';

function option(name: string): number | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : undefined;
}

const MiB = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

async function main(): Promise<void> {
  const corpus = await loadCorpus();
  const seed = option('seed') ?? randomSeed();
  const print = option('print');
  if (print !== undefined) {
    console.log(describeCase(generateCase(corpus, splicePool(corpus), seed, print)));
    return;
  }
  const positional = process.argv
    .slice(2)
    .find((arg, i, all) => /^\d+$/.test(arg) && !all[i - 1]?.startsWith('--'));
  const cases = Number(positional ?? 2000);
  const concurrency = option('concurrency') ?? 4;
  console.log(
    `fuzzing ${cases} cases, POSTERN_FUZZ_SEED=${seed}, ${concurrency} connections at a time`,
  );

  let postern = await PosternProcess.start({ env: FUZZ_GATEWAY_ENV });
  const baseline = await memoryOf(postern.pid);
  let crashes = 0;
  const cpuStart = process.cpuUsage();
  const result = await runCampaign({
    corpus,
    seed,
    cases,
    concurrency,
    batchSize: 50,
    password: ADMIN_PASSWORD,
    gateway: () => ({
      port: postern.wirePort,
      pid: postern.pid,
      caFile: postern.caFile,
      running: postern.running,
      log: postern.log,
    }),
    restartAfterCrash: async () => {
      crashes++;
      await postern.dispose();
      postern = await PosternProcess.start({ env: FUZZ_GATEWAY_ENV });
      return true;
    },
    progress: (done: number, findings: readonly Finding[]) => {
      if (done % 500 === 0) console.log(`${done} cases, ${findings.length} findings`);
    },
  });
  const gatewayPeak = Math.max(
    result.peakRssBytes,
    postern.running ? (await memoryOf(postern.pid)).peak : 0,
  );
  await postern.dispose();

  const count = (kind: Finding['kind']) => result.findings.filter((f) => f.kind === kind).length;
  for (const finding of result.findings) console.log(formatFinding(finding));
  const cpu = process.cpuUsage(cpuStart);
  const table = [
    '| seed | cases run | crashes | hangs | failed health checks | bad ErrorResponses | relay logins refused | gateway RSS at start | gateway peak RSS | wall time |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${seed} | ${result.casesRun} | ${crashes} | ${count('hang')} | ${count('health')} of ${result.healthChecks} | ${count('bad-error')} | ${count('login-failed')} | ${MiB(baseline.current)} MiB | ${MiB(gatewayPeak)} MiB | ${(result.durationMs / 1000).toFixed(0)} s |`,
  ].join('\n');
  const verdicts = Object.entries(result.verdicts)
    .map(([verdict, n]) => `${verdict} ${n}`)
    .join(', ');
  await writeResults('Wire protocol fuzzer', table, [
    `\`node dist/bench/fuzz-wire.js ${cases} --seed ${seed} --concurrency ${concurrency}\`: mutated replays of the recorded psql, psycopg2, pgJDBC and node-postgres sessions (test/fuzz/corpus), half before authentication, half after a real SCRAM login; ${concurrency} connections at a time, a health check (process alive, fresh login + \`select 1\` in a session as clean as the first, no descriptor held for a finished connection) every 50 cases.`,
    `Gateway settings: ${Object.entries(FUZZ_GATEWAY_ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}.`,
    `How connections ended: ${verdicts} (\`closed\`: the gateway closed after answering or refusing; \`destroyed\`: the fuzzer dropped the connection itself).`,
    `SQLSTATEs the fuzz connections received: ${Object.entries(result.sqlstates)
      .sort(([, a], [, b]) => b - a)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ')}.`,
    'A hang is a connection the gateway neither closed nor answered within 10 s of the last write (the auth timeout is 2 s). Peak RSS is VmHWM of the gateway process (the embedded PostgreSQL excluded).',
    'Found by earlier runs and fixed, each now a raw-bytes regression test in test/e2e/fuzz-wire.test.ts: FUZZ-01 (SASL messages before login were buffered up to 1 GiB), FUZZ-02 (a session ended between an extended-protocol message and its Sync leaked its upstream connection), FUZZ-03 (a client paused when PostgreSQL ended its session mid-message kept its socket forever), FUZZ-04 (a client hanging up right after its SCRAM client-final leaked its upstream connection).',
    `Fuzzer CPU: ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s.`,
    ...(result.findings.length ? result.findings.map(formatFinding) : ['No findings.']),
  ]);
  console.log(table);
  if (result.findings.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
