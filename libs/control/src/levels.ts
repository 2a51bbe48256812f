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
