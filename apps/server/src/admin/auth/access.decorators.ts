import { SetMetadata } from '@nestjs/common';

/**
 * Every route declares who may call it; the global AccessGuard refuses a
 * route that does not (deny by default, STYLE.md §6).
 */
export const ACCESS_RULE = 'postern:access-rule';
export type AccessRule = 'public' | 'authenticated';

/** Anyone, without credentials (health checks, login). */
export const Public = () => SetMetadata(ACCESS_RULE, 'public' satisfies AccessRule);

/**
 * A valid session or API token; what the caller may then do is decided by
 * the services, which receive the Actor.
 */
export const Authenticated = () => SetMetadata(ACCESS_RULE, 'authenticated' satisfies AccessRule);
