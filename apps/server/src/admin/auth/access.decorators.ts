import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';

/**
 * Every route declares who may call it; the global AccessGuard refuses a
 * route that does not (deny by default; the route-table test checks it).
 */
export const ACCESS_RULE = 'postern:access-rule';
export type AccessRule = 'public' | 'authenticated';

/** Names of the OpenAPI security schemes (main.ts registers them). */
export const BEARER_SCHEME = 'bearer';
export const COOKIE_SCHEME = 'session-cookie';

/** Anyone, without credentials (health checks, login). */
export const Public = () => SetMetadata(ACCESS_RULE, 'public' satisfies AccessRule);

/**
 * A valid session or API token; what the caller may then do is decided by
 * the services, which receive the Actor. The OpenAPI document learns the
 * same from here: bearer or cookie credentials, and a possible 401.
 */
export const Authenticated = () =>
  applyDecorators(
    SetMetadata(ACCESS_RULE, 'authenticated' satisfies AccessRule),
    ApiBearerAuth(BEARER_SCHEME),
    ApiCookieAuth(COOKIE_SCHEME),
    ApiErrors(401),
  );
