/**
 * Startup parameters a client may set on its upstream session. Everything
 * else is dropped here, before any upstream sees it: a role, a session
 * authorization or `default_transaction_read_only` chosen by the client must
 * never weaken what Postern decided (PROTO-07).
 */
const FORWARDED = new Map(
  [
    'application_name',
    'client_encoding',
    'DateStyle',
    'TimeZone',
    'IntervalStyle',
    'extra_float_digits',
    'search_path',
  ].map((name) => [name.toLowerCase(), name]),
);

export function forwardedParameters(params: ReadonlyMap<string, string>): Record<string, string> {
  const forwarded: Record<string, string> = {};
  for (const [name, value] of params) {
    const canonical = FORWARDED.get(name.toLowerCase());
    if (canonical) forwarded[canonical] = value;
  }
  return forwarded;
}
