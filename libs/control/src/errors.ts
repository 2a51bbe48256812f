/**
 * True for a unique-constraint violation (Prisma's P2002, PostgreSQL's 23505): two
 * writers raced for the same slug or name. Duck-typed so that no Prisma class leaves
 * this library.
 */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'P2002';
}
