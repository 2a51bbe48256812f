import { parseArgs } from 'node:util';
import { ConfigError } from './config';
import { CONFIG_FILE_SETTING, NOT_A_FLAG, SETTING_NAMES, flagOf } from './settings';

/** `--pool-size` for `POSTERN_POOL_SIZE`, ...: every setting but the admin password, and `--config`. */
export const SETTING_FLAGS: readonly { readonly flag: string; readonly name: string }[] = [
  CONFIG_FILE_SETTING,
  ...SETTING_NAMES.filter((name) => !NOT_A_FLAG.includes(name)),
].map((name) => ({ flag: flagOf(name), name }));

/**
 * The settings given on the command line of `node main.js` / `npm start -- --port 6000`,
 * under their environment names (they take precedence over the environment).
 */
export function settingsFromArgv(argv: readonly string[]): Record<string, string> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(SETTING_FLAGS.map(({ flag }) => [flag, { type: 'string' }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    // Node's message names the option, never a value.
    throw new ConfigError([(err as Error).message]);
  }
  const settings: Record<string, string> = {};
  for (const { flag, name } of SETTING_FLAGS) {
    const value = values[flag];
    if (typeof value === 'string') settings[name] = value;
  }
  return settings;
}
