/**
 * Cross-site request refusal for cookie-authenticated (and anonymous) unsafe
 * requests, as tailscale's `csrfProtect` and Go's CrossOriginProtection do:
 *
 * 1. `Sec-Fetch-Site` (every current browser sends it): only `same-origin`
 *    and `none` (typed in, bookmarks) pass.
 * 2. Otherwise `Origin`, when present, must name this host.
 * 3. Neither header: not a browser request, nothing to forge.
 *
 * Bearer-authenticated calls never get here: a browser cannot attach our
 * Authorization header to a cross-site request.
 */
export interface RequestOriginHeaders {
  readonly secFetchSite?: string;
  readonly origin?: string;
  readonly host?: string;
}

/** Null when the request may proceed, else why it is refused. */
export function crossSiteRefusal(headers: RequestOriginHeaders): string | null {
  const { secFetchSite, origin, host } = headers;
  if (secFetchSite !== undefined) {
    return secFetchSite === 'same-origin' || secFetchSite === 'none'
      ? null
      : 'cross-site request refused';
  }
  if (origin === undefined) return null;
  return originHost(origin) !== null && originHost(origin) === host?.toLowerCase()
    ? null
    : 'cross-origin request refused';
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isUnsafeMethod(method: string | undefined): boolean {
  return !SAFE_METHODS.has((method ?? '').toUpperCase());
}

/** `host[:port]` of an Origin header, or null for `null` and junk. */
function originHost(origin: string): string | null {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host.toLowerCase() : null;
  } catch {
    return null;
  }
}
