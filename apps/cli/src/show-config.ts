import { loadConfig, type PosternConfig } from '../../server/src/config/config';

const MASK = '********';

/**
 * The effective configuration, as the gateway started in this directory
 * with this environment would use it, with every secret masked. There is
 * deliberately no way to show them.
 */
export function effectiveConfig(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  return flatten(maskSecrets(loadConfig(env)));
}

function maskSecrets(config: PosternConfig): PosternConfig {
  return {
    ...config,
    adminPassword: config.adminPassword === undefined ? undefined : MASK,
    upstreamUrl: config.upstreamUrl === undefined ? undefined : maskUrlPassword(config.upstreamUrl),
  };
}

function maskUrlPassword(value: string): string {
  const url = new URL(value);
  if (url.password) url.password = MASK;
  // A password may also travel as a query parameter.
  if (url.searchParams.has('password')) url.searchParams.set('password', MASK);
  return url.toString();
}

/** `pool.size` style keys, in the loader's order. */
function flatten(value: object, prefix = ''): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner !== null && typeof inner === 'object')
      Object.assign(flat, flatten(inner, `${prefix}${key}.`));
    else flat[`${prefix}${key}`] = inner ?? null;
  }
  return flat;
}
