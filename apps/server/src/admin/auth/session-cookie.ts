/** The console's session cookie: the same `pss_` token the login answer carries. */
export const SESSION_COOKIE = 'postern_session';
/** Sent only to the API: the console's pages need not carry it. */
const COOKIE_PATH = '/api/v1';

/**
 * HttpOnly (no script reads it), SameSite=Strict (no cross-site request
 * carries it), Secure whenever the client reached us over TLS, directly or
 * through a proxy that says so.
 */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${token}`,
    `Path=${COOKIE_PATH}`,
    `Max-Age=${maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Strict',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/** The value of cookie `name` in a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}
