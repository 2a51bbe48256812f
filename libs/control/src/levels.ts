/** Access levels in increasing order (docs/architecture.md, "Identity"). */
export const ACCESS_LEVELS = ['read-only', 'read-write', 'manager', 'owner'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];
/** The levels a grant (or a token's cap) can name; `owner` comes from ownership only. */
export type GrantLevel = Exclude<AccessLevel, 'owner'>;

export function levelRank(level: AccessLevel): number {
  return ACCESS_LEVELS.indexOf(level);
}

export function maxLevel(levels: Iterable<AccessLevel>): AccessLevel | null {
  let best: AccessLevel | null = null;
  for (const level of levels) if (best === null || levelRank(level) > levelRank(best)) best = level;
  return best;
}

export function minLevel(a: AccessLevel, b: AccessLevel): AccessLevel {
  return levelRank(a) <= levelRank(b) ? a : b;
}

export function isGrantLevel(value: unknown): value is GrantLevel {
  return value === 'read-only' || value === 'read-write' || value === 'manager';
}

// Prisma's enum member names for the levels stored in the database.
type StoredLevel = 'read_only' | 'read_write' | 'manager';
const TO_STORED: Record<GrantLevel, StoredLevel> = {
  'read-only': 'read_only',
  'read-write': 'read_write',
  manager: 'manager',
};

export function toStoredLevel(level: GrantLevel): StoredLevel {
  return TO_STORED[level];
}

export function fromStoredLevel(level: StoredLevel): GrantLevel {
  return level === 'read_only' ? 'read-only' : level === 'read_write' ? 'read-write' : 'manager';
}

/** What decides a user's level on a database (see `effectiveLevelOf`). */
export interface LevelFacts {
  readonly isOwner: boolean;
  /** False while the owning user or organisation is disabled: its databases are suspended. */
  readonly ownerEnabled: boolean;
  /** Grants to the user and to its enabled organisations. */
  readonly grantLevels: readonly GrantLevel[];
  /** The user's role in the owning organisation, if it is one. */
  readonly roleInOwner: 'admin' | 'member' | null;
}

/**
 * Highest of: ownership; for a database owned by an organisation, `owner`
 * for its admins and `read-write` for its members; the grants. Nothing
 * while the owner is disabled.
 */
export function effectiveLevelOf(facts: LevelFacts): AccessLevel | null {
  if (facts.isOwner) return 'owner';
  if (!facts.ownerEnabled) return null;
  const levels: AccessLevel[] = [...facts.grantLevels];
  if (facts.roleInOwner === 'admin') levels.push('owner');
  else if (facts.roleInOwner === 'member') levels.push('read-write');
  return maxLevel(levels);
}
