/**
 * The overview's numbers over time: one sample every SAMPLE_INTERVAL_MS, the last hour kept
 * in a ring. Counters are kept as read (cumulative); rates and means are differences between
 * neighbouring samples, so a sample that is late or missing does not distort the others.
 */
export const SAMPLE_INTERVAL_MS = 10_000;
export const HISTORY_SAMPLES = 360;

/** What the metrics registry and the live state say at one moment. */
export interface OverviewReading {
  readonly at: number;
  readonly connections: number;
  readonly sessions: number;
  readonly loginsOk: number;
  readonly loginsFailed: number;
  readonly statements: number;
  readonly statementErrors: number;
  readonly statementSeconds: number;
  readonly upstreamBusy: number;
  readonly upstreamIdle: number;
  readonly upstreamFailures: number;
}

/** One point of the charts: gauges as read, counters as what happened since the point before. */
export interface OverviewPoint {
  readonly at: string;
  readonly connections: number;
  readonly sessions: number;
  readonly logins: number;
  readonly loginFailures: number;
  readonly statementsPerSecond: number;
  readonly statementErrors: number;
  /** Mean statement duration over the interval; null when none ran. */
  readonly meanLatencyMs: number | null;
  readonly upstreamBusy: number;
  readonly upstreamIdle: number;
  readonly upstreamFailures: number;
}

export class OverviewHistory {
  private readonly readings: OverviewReading[] = [];

  constructor(private readonly capacity = HISTORY_SAMPLES + 1) {}

  add(reading: OverviewReading): void {
    this.readings.push(reading);
    if (this.readings.length > this.capacity) this.readings.shift();
  }

  /** The chart points, oldest first, with `now` (not kept) as the last one. */
  points(now: OverviewReading): OverviewPoint[] {
    const all = [...this.readings, now];
    const points: OverviewPoint[] = [];
    for (let i = 1; i < all.length; i++) points.push(pointBetween(all[i - 1]!, all[i]!));
    return points;
  }

  /** Counter increases from the oldest kept reading (at most an hour ago) to `now`. */
  sinceOldest(now: OverviewReading): { logins: number; loginFailures: number } {
    const oldest = this.readings[0] ?? now;
    return {
      logins: nonNegative(now.loginsOk - oldest.loginsOk),
      loginFailures: nonNegative(now.loginsFailed - oldest.loginsFailed),
    };
  }
}

function pointBetween(before: OverviewReading, after: OverviewReading): OverviewPoint {
  const seconds = Math.max((after.at - before.at) / 1000, 0.001);
  const statements = nonNegative(after.statements - before.statements);
  const statementSeconds = nonNegative(after.statementSeconds - before.statementSeconds);
  return {
    at: new Date(after.at).toISOString(),
    connections: after.connections,
    sessions: after.sessions,
    logins: nonNegative(after.loginsOk - before.loginsOk),
    loginFailures: nonNegative(after.loginsFailed - before.loginsFailed),
    statementsPerSecond: round(statements / seconds),
    statementErrors: nonNegative(after.statementErrors - before.statementErrors),
    meanLatencyMs: statements > 0 ? round((statementSeconds / statements) * 1000) : null,
    upstreamBusy: after.upstreamBusy,
    upstreamIdle: after.upstreamIdle,
    upstreamFailures: nonNegative(after.upstreamFailures - before.upstreamFailures),
  };
}

/** A counter reset (never expected in one process) reads as nothing happened. */
function nonNegative(value: number): number {
  return value > 0 ? value : 0;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
