import type { PosternConfig } from './config';

/**
 * Settings whose consumers read them where they are used (per session, per query, per login,
 * at shutdown), so SIGHUP can swap them in place. Everything else is copied into long-lived
 * objects at start (listeners, pools, the login limiter, the cluster) and needs a restart.
 */
const RELOADABLE: ReadonlySet<keyof PosternConfig> = new Set<keyof PosternConfig>([
  'logLevel',
  'guardrails',
  'httpMaxRowBytes',
  'maxConnections',
  'maxConnectionsPerUser',
  'maxDatabasesPerOwner',
  'shutdownGraceMs',
  'audit',
  'authCleartext',
]);

export interface ReloadOutcome {
  /** `guardrails.statementTimeoutMs` style names, as `postern config` prints them. */
  readonly reloaded: readonly string[];
  readonly needsRestart: readonly string[];
}

/**
 * Installs the reloadable parts of `next` into `live`, the object every consumer holds
 * (ConfigModule's POSTERN_CONFIG): its top level is writable, its parts are frozen and
 * replaced whole, so a reader sees either the old or the new guardrails, never a mix.
 */
export function applyReload(live: PosternConfig, next: PosternConfig): ReloadOutcome {
  const reloaded: string[] = [];
  const needsRestart: string[] = [];
  for (const key of Object.keys(next) as (keyof PosternConfig)[]) {
    const changed = changedPaths(live[key], next[key], key);
    if (changed.length === 0) continue;
    if (RELOADABLE.has(key)) {
      (live as Record<keyof PosternConfig, unknown>)[key] = next[key];
      reloaded.push(...changed);
    } else {
      needsRestart.push(...changed);
    }
  }
  return { reloaded, needsRestart };
}

/** A copy of a frozen config whose top level can be replaced by `applyReload`. */
export function liveConfig(config: PosternConfig): PosternConfig {
  return { ...config };
}

function changedPaths(before: unknown, after: unknown, at: string): string[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    return [...keys].flatMap((key) => changedPaths(before[key], after[key], `${at}.${key}`));
  }
  return before === after ? [] : [at];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}
