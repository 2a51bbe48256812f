/**
 * Slugs of entities and names of databases (docs/architecture.md, "Identity"): lowercase, start with
 * a letter or digit, at most 63 bytes so they survive PostgreSQL's NAMEDATALEN
 * truncation unchanged (PROTO-01h).
 */
const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export class InvalidNameError extends Error {}

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export function assertValidName(kind: 'slug' | 'database name', name: string): void {
  if (!isValidName(name)) {
    throw new InvalidNameError(
      `${kind} must be 1 to 63 characters of a-z, 0-9, "_" or "-", starting with a letter or digit`,
    );
  }
}

/** `owner/name` as people write it; `name` alone means the login's own entity. */
export function parseDatabaseReference(
  reference: string,
  loginSlug: string,
): { owner: string; name: string } | null {
  const parts = reference.split('/');
  if (parts.length === 1)
    return isValidName(parts[0]!) ? { owner: loginSlug, name: parts[0]! } : null;
  if (parts.length !== 2) return null;
  const [owner, name] = parts as [string, string];
  return isValidName(owner) && isValidName(name) ? { owner, name } : null;
}
