/**
 * What an idle logged-in client costs the gateway in memory: N clients log
 * in over TLS (SCRAM) to a database in transaction mode, where an idle
 * client holds no upstream connection, then stay idle; the gateway's RSS
 * before, after the logins, and while they idle (it must stay flat).
 *
 *   npm run build && node dist/bench/idle-clients.js [--clients 10000]
 */
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { AdminHttp } from '../test/support/admin-http';
import { PosternProcess } from '../test/support/postern-process';
import { rssBytes } from './bench-processes';

export interface IdleMemory {
  readonly clients: number;
  /** Gateway RSS in bytes: before the logins, after them, and after idling. */
  readonly before: number;
  readonly loggedIn: number;
  readonly idled: number;
}

/**
 * Logs `clients` in through `connect` (in batches, as a real fleet of
 * clients arrives), measures `pid`'s RSS, idles `idleSeconds`, measures again.
 */
export async function measureIdleClients(
  pid: number,
  clients: number,
  connect: () => Promise<Client>,
  idleSeconds: number,
): Promise<IdleMemory> {
  const open: Client[] = [];
  const settle = () => new Promise((resolve) => setTimeout(resolve, 2000));
  await settle();
  const before = await rssBytes(pid);
  try {
    // Batches within the gateway's limit of logins in progress per address (64).
    for (let i = 0; i < clients; i += 50) {
      const batch = Math.min(50, clients - i);
      open.push(...(await Promise.all(Array.from({ length: batch }, () => connect()))));
    }
    await settle();
    const loggedIn = await rssBytes(pid);
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const idled = await rssBytes(pid);
    return { clients, before, loggedIn, idled };
  } finally {
    await Promise.all(open.map((client) => client.end().catch(() => undefined)));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '10000' },
      idle: { type: 'string', default: '30' },
    },
  });
  const clients = Number(values.clients);
  const postern = await PosternProcess.start({
    env: {
      POSTERN_MAX_CONNECTIONS: String(clients + 10),
      POSTERN_MAX_CONNECTIONS_PER_USER: String(clients + 10),
      POSTERN_LOG_LEVEL: 'warn',
    },
  });
  try {
    const http = AdminHttp.of(postern);
    const api = await http.session();
    const limits = await http.call('PUT', '/databases/admin/main/limits', {
      token: api.token,
      body: { poolMode: 'transaction' },
    });
    if (limits.status !== 200) throw new Error(JSON.stringify(limits.body));
    const memory = await measureIdleClients(
      postern.pid,
      clients,
      () => postern.connect(),
      Number(values.idle),
    );
    const perClient = (memory.loggedIn - memory.before) / clients;
    console.log(
      JSON.stringify({
        ...memory,
        perClientBytes: Math.round(perClient),
        driftAfterIdleBytes: memory.idled - memory.loggedIn,
      }),
    );
  } finally {
    await postern.dispose();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
