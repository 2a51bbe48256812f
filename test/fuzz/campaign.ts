import { readFile } from 'node:fs/promises';
import { generateCase, splicePool, type FuzzCase } from './cases';
import type { Recording } from './corpus';
import { heldConnections } from './gateway-sockets';
import { healthCheck, replayCase, type CaseOutcome } from './replay';

/**
 * Gateway settings for fuzzing: plaintext allowed (and TLS offered, so
 * SSLRequest is exercised), a short auth timeout so that stalled pre-auth
 * connections end quickly, no lock-out (the fuzzer fails thousands of
 * logins as `admin`, and the health check must still log in), and a
 * statement timeout as a safety net against a mutated query that runs long.
 * A small upstream pool, so that a leaked upstream connection shows within
 * a few cases as a health check that cannot log in.
 */
export const FUZZ_AUTH_TIMEOUT_MS = 2_000;
export const FUZZ_POOL_SIZE = 8;
export const FUZZ_GATEWAY_ENV = {
  POSTERN_TLS: 'prefer',
  POSTERN_AUTH_TIMEOUT: `${FUZZ_AUTH_TIMEOUT_MS}ms`,
  POSTERN_LOGIN_MAX_FAILURES: '1000000000',
  POSTERN_STATEMENT_TIMEOUT: '5s',
  POSTERN_POOL_SIZE: String(FUZZ_POOL_SIZE),
  POSTERN_LOG_LEVEL: 'error',
} as const;

/** Generous: a connection quiet and open this long after its last write is a hang. */
export const HANG_BUDGET_MS = FUZZ_AUTH_TIMEOUT_MS + 8_000;

/** The gateway under test, as the campaign sees it. */
export interface FuzzedGateway {
  readonly port: number;
  readonly pid: number;
  /** Its CA certificate file, for cases over TLS. */
  readonly caFile: string;
  readonly running: boolean;
  readonly log: string;
}

export interface Finding {
  readonly kind:
    | 'crash'
    | 'hang'
    | 'bad-error'
    | 'login-failed'
    | 'health'
    | 'unbounded'
    | 'state-leak'
    | 'socket-leak';
  readonly seed: number;
  /** The cases that may have caused it (a crash: the whole batch in flight). */
  readonly cases: readonly number[];
  readonly detail: string;
}

export interface CampaignOptions {
  readonly corpus: readonly Recording[];
  readonly seed: number;
  readonly firstCase?: number;
  readonly cases: number;
  /** Connections in flight at once. */
  readonly concurrency: number;
  /** Cases between two health checks (login + select 1, process alive, RSS). */
  readonly batchSize: number;
  readonly password: string;
  readonly gateway: () => FuzzedGateway;
  /** After a crash: a fresh gateway to go on with, or false to stop. */
  readonly restartAfterCrash: () => Promise<boolean>;
  readonly progress?: (done: number, findings: readonly Finding[]) => void;
}

export interface CampaignResult {
  readonly casesRun: number;
  readonly findings: readonly Finding[];
  readonly verdicts: Readonly<Record<string, number>>;
  /** How often each SQLSTATE came back (how far the cases got). */
  readonly sqlstates: Readonly<Record<string, number>>;
  readonly healthChecks: number;
  /** Largest VmHWM (peak resident set) of the gateway process(es), bytes. */
  readonly peakRssBytes: number;
  readonly durationMs: number;
}

/** Peak and current resident set of a process, from /proc (Linux). */
export async function memoryOf(pid: number): Promise<{ peak: number; current: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { peak: kib('VmHWM') * 1024, current: kib('VmRSS') * 1024 };
}

/**
 * Runs `cases` generated cases in batches against the gateway, checking after
 * each batch that the process lives, that a fresh login answers `select 1`,
 * and recording its peak RSS. Every anomaly is a Finding carrying the seed
 * and case numbers that replay it.
 */
export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const pool = splicePool(options.corpus);
  const findings: Finding[] = [];
  const verdicts: Record<string, number> = {};
  const sqlstates: Record<string, number> = {};
  const first = options.firstCase ?? 0;
  let peakRssBytes = 0;
  let healthChecks = 0;
  let casesRun = 0;
  /** What the first health check saw of its session: every later one must see the same. */
  let baselineState: string | null = null;
  for (
    let batchStart = first;
    batchStart < first + options.cases;
    batchStart += options.batchSize
  ) {
    const batchEnd = Math.min(first + options.cases, batchStart + options.batchSize);
    const batch: FuzzCase[] = [];
    for (let index = batchStart; index < batchEnd; index++) {
      batch.push(generateCase(options.corpus, pool, options.seed, index));
    }
    const current = options.gateway();
    const target = {
      port: current.port,
      password: options.password,
      hangBudgetMs: HANG_BUDGET_MS,
      ca: await readFile(current.caFile, 'utf8'),
    };
    const outcomes = await runConcurrently(batch, options.concurrency, (c) =>
      replayCase(target, c),
    );
    casesRun += batch.length;
    batch.forEach((fuzzCase, n) => {
      const outcome = outcomes[n]!;
      verdicts[outcome.verdict] = (verdicts[outcome.verdict] ?? 0) + 1;
      for (const code of outcome.sqlstates) sqlstates[code] = (sqlstates[code] ?? 0) + 1;
      const kind = findingKind(outcome);
      if (kind)
        findings.push({
          kind,
          seed: options.seed,
          cases: [fuzzCase.index],
          detail: outcome.detail,
        });
    });
    const gateway = options.gateway();
    if (gateway.running) {
      for (const { port, index } of await socketsKept(gateway, batch, outcomes)) {
        findings.push({
          kind: 'socket-leak',
          seed: options.seed,
          cases: [index],
          detail: `the gateway still held the connection from port ${port} ${HANG_BUDGET_MS} ms after the client had closed it`,
        });
      }
      peakRssBytes = Math.max(peakRssBytes, (await memoryOf(gateway.pid)).peak);
      const health = await healthCheck(gateway.port, options.password);
      healthChecks++;
      const suspects = batch.map((c) => c.index);
      if (health.problem) {
        findings.push({
          kind: 'health',
          seed: options.seed,
          cases: suspects,
          detail: health.problem,
        });
      } else if (baselineState === null) {
        baselineState = health.sessionState;
      } else if (health.sessionState !== baselineState) {
        findings.push({
          kind: 'state-leak',
          seed: options.seed,
          cases: suspects,
          detail: `a fresh session saw ${health.sessionState}, the first one ${baselineState}`,
        });
      }
    }
    if (!options.gateway().running) {
      findings.push({
        kind: 'crash',
        seed: options.seed,
        cases: batch.map((c) => c.index),
        detail: gateway.log.slice(-2000),
      });
      if (!(await options.restartAfterCrash())) break;
    }
    options.progress?.(casesRun, findings);
  }
  return {
    casesRun,
    findings,
    verdicts,
    sqlstates,
    healthChecks,
    peakRssBytes,
    durationMs: Date.now() - started,
  };
}

/**
 * Connections of this batch's cases (all closed on the client side by now)
 * that the gateway still holds after the hang budget.
 */
async function socketsKept(
  gateway: FuzzedGateway,
  batch: readonly FuzzCase[],
  outcomes: readonly CaseOutcome[],
): Promise<Array<{ port: number; index: number }>> {
  const caseOfPort = new Map<number, number>();
  outcomes.forEach((outcome, n) => {
    if (outcome.clientPort) caseOfPort.set(outcome.clientPort, batch[n]!.index);
  });
  const deadline = Date.now() + HANG_BUDGET_MS;
  for (;;) {
    const held = [...(await heldConnections(gateway.pid, gateway.port))].filter((port) =>
      caseOfPort.has(port),
    );
    if (held.length === 0 || Date.now() > deadline) {
      return held.map((port) => ({ port, index: caseOfPort.get(port)! }));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function findingKind(outcome: CaseOutcome): Finding['kind'] | null {
  switch (outcome.verdict) {
    case 'hang':
    case 'bad-error':
    case 'login-failed':
    case 'unbounded':
      return outcome.verdict;
    default:
      return null;
  }
}

async function runConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** One line per finding, with what replays it. */
export function formatFinding(finding: Finding): string {
  const replay = `POSTERN_FUZZ_SEED=${finding.seed} case${finding.cases.length > 1 ? 's' : ''} ${finding.cases.join(',')}`;
  return `${finding.kind} (${replay}; print a case: node dist/bench/fuzz-wire.js --seed ${finding.seed} --print ${finding.cases[0]}): ${finding.detail}`;
}
