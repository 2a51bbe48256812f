import { InvalidArgumentError } from 'commander';
import { type GrantLevel } from '../api-client';
import {
  api,
  collect,
  countLimit,
  durationLimit,
  expiry,
  level,
  LEVELS,
  out,
  program,
  run,
} from '../context';

/** `databases limits` options: the API's limit keys, parsed from the command line. */
const LIMIT_OPTIONS = [
  ['--statement-timeout <duration>', 'statementTimeoutMs', durationLimit],
  ['--idle-in-transaction-timeout <duration>', 'idleInTransactionTimeoutMs', durationLimit],
  ['--idle-session-timeout <duration>', 'idleSessionTimeoutMs', durationLimit],
  ['--max-result-rows <count>', 'maxResultRows', countLimit],
  ['--max-result-bytes <count>', 'maxResultBytes', countLimit],
  ['--max-connections <count>', 'maxConnections', countLimit],
] as const;

function poolMode(value: string): 'session' | 'transaction' | 'default' {
  if (value !== 'session' && value !== 'transaction' && value !== 'default') {
    throw new InvalidArgumentError('session, transaction or default');
  }
  return value;
}

function upstreamAssignment(value: string): 'login' | 'first-use' | 'default' {
  if (value !== 'login' && value !== 'first-use' && value !== 'default') {
    throw new InvalidArgumentError('login, first-use or default');
  }
  return value;
}

/** A database's own pool size: the server checks it against the gateway's. */
function poolSize(value: string): number | 'default' {
  if (value === 'default') return value;
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('a positive integer or default');
  return Number(value);
}

/** Databases, grants and API tokens. */
export function registerDatabaseCommands(): void {
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
  const limits = databases
    .command('limits <database>')
    .description(
      "show the database's limits, pool mode and upstream assignment, or change the ones given (the others stay)",
    )
    .option(
      '--pool-mode <mode>',
      'session: a session holds an upstream connection to its end; transaction: per transaction',
      poolMode,
    )
    .option(
      '--upstream-assignment <when>',
      'session mode: login takes the upstream connection at login; first-use when the client first sends something (idle clients hold none, a gateway pid)',
      upstreamAssignment,
    )
    .option(
      '--pool-size <count>',
      "upstream connections per level, up to the gateway's pool size (its default)",
      poolSize,
    );
  for (const [flags, , parse] of LIMIT_OPTIONS)
    limits.option(flags, 'off, default, or a value', parse);
  limits.action(
    run(async (db: string, options: Record<string, number | string>) => {
      const client = await api();
      const current = (await client.getDatabase(db)).limits as Record<string, unknown>;
      const changes: Record<string, unknown> = {};
      const change = (key: string, value: number | string | undefined) => {
        if (value !== undefined) changes[key] = value === 'default' ? null : value;
      };
      change('poolMode', options.poolMode);
      change('upstreamAssignment', options.upstreamAssignment);
      change('poolSize', options.poolSize);
      for (const [flags, key] of LIMIT_OPTIONS) {
        const option = flags
          .slice(2, flags.indexOf(' '))
          .replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
        change(key, options[option]);
      }
      const limits =
        Object.keys(changes).length === 0
          ? current
          : (await client.setDatabaseLimits(db, { ...current, ...changes } as never)).limits;
      if (Object.keys(limits).length > 0) out().record(limits);
      else
        out().done(
          'no limits of its own: the global settings and pool size, session pooling assigned at login',
          limits,
        );
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

  const tokens = program.command('tokens').description('API tokens (also wire passwords)');
  tokens
    .command('create <user>')
    .description('create a token; its secret is printed this once')
    .requiredOption('--name <name>', 'what the token is for')
    .option(
      '--database <owner/name>',
      'limit to this database (repeatable)',
      collect,
      [] as string[],
    )
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
}
