/**
 * pgbench select-only through three paths to the same database, in one run:
 * direct PostgreSQL, PgBouncer (Debian's, session pooling) and Postern.
 *
 *   npm run build && node dist/bench/pgbench-compare.js [seconds=10] [clients=4]
 *
 * All three reach the tenant database `admin/main` as its writer role, so
 * PostgreSQL does the same work; what differs is the hop in front of it.
 * Both proxies are measured with TLS from the client (their default) and
 * without; PostgreSQL itself (embedded) has no TLS. Ratios are against
 * direct PostgreSQL. Results go to bench/RESULTS.md.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { RolePasswords } from '#control';
import { findFreePort } from '#engine';
import { run } from '../test/support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../test/support/postern-process';
import { writeResults } from './results';

const seconds = Number(process.argv[2] ?? 10);
const clients = Number(process.argv[3] ?? 4);

interface Target {
  readonly name: string;
  readonly conninfo: string;
  readonly password: string;
}

async function upstreamOf(postern: PosternProcess) {
  const dataDir = path.join(postern.workDir, 'data');
  const superuserPassword = (
    await readFile(path.join(dataDir, 'secrets', 'superuser-password'), 'utf8')
  ).trim();
  // postmaster.pid: line 4 the port, line 5 the Unix-domain socket directory, the only
  // place tenant roles may log in (the gateway's way in; this runs as the same OS user).
  const pid = (await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n');
  const port = Number(pid[3]);
  const socketDir = pid[4]!;
  const rolePasswords = new RolePasswords(
    Buffer.from(
      (await readFile(path.join(dataDir, 'secrets', 'role-password-key'), 'utf8')).trim(),
      'base64url',
    ),
  );
  const control = new Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: superuserPassword,
    database: 'postern_control',
  });
  await control.connect();
  const { rows } = await control.query<{ physical_name: string; writer_role: string }>(
    `SELECT d.physical_name, d.writer_role FROM database d JOIN entity e ON e.id = d.owner_id
      WHERE e.slug = 'admin' AND d.name = 'main'`,
  );
  const secret = await control.query<{ rolpassword: string }>(
    'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
    [rows[0]!.writer_role],
  );
  await control.end();
  return {
    port,
    socketDir,
    ...rows[0]!,
    writer_password: rolePasswords.of(rows[0]!.writer_role),
    scramSecret: secret.rows[0]!.rolpassword,
  };
}

async function startPgBouncer(
  work: string,
  upstream: Awaited<ReturnType<typeof upstreamOf>>,
  certsDir: string,
): Promise<{ port: number; stop: () => void }> {
  const port = await findFreePort();
  // PgBouncer runs as the postgres OS user when we are root: it gets its own copy of the key.
  await copyFile(path.join(certsDir, 'server.crt'), path.join(work, 'server.crt'));
  await copyFile(path.join(certsDir, 'server.key'), path.join(work, 'server.key'));
  if (process.getuid?.() === 0) await run('chown', ['-R', 'postgres', work]);
  await writeFile(
    path.join(work, 'userlist.txt'),
    `"${upstream.writer_role}" "${upstream.scramSecret}"\n`,
  );
  await writeFile(
    path.join(work, 'pgbouncer.ini'),
    [
      '[databases]',
      `bench = host=${upstream.socketDir} port=${upstream.port} dbname=${upstream.physical_name}`,
      '[pgbouncer]',
      `listen_addr = 127.0.0.1`,
      `listen_port = ${port}`,
      `unix_socket_dir =`,
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(work, 'userlist.txt')}`,
      'pool_mode = session',
      `max_client_conn = 100`,
      `default_pool_size = ${clients + 2}`,
      'client_tls_sslmode = prefer',
      `client_tls_cert_file = ${path.join(work, 'server.crt')}`,
      `client_tls_key_file = ${path.join(work, 'server.key')}`,
      `logfile = ${path.join(work, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  const args = [path.join(work, 'pgbouncer.ini')];
  const asRoot = process.getuid?.() === 0;
  // PgBouncer refuses to run as root; run it as the postgres OS user.
  const child = asRoot
    ? spawn('runuser', ['-u', 'postgres', '--', 'pgbouncer', ...args], { stdio: 'ignore' })
    : spawn('pgbouncer', args, { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  if (child.exitCode !== null) {
    throw new Error(
      `pgbouncer exited: ${await readFile(path.join(work, 'pgbouncer.log'), 'utf8').catch(() => '')}`,
    );
  }
  return { port, stop: () => child.kill('SIGINT') };
}

async function pgbench(target: Target, mode: 'simple' | 'prepared'): Promise<number> {
  const result = await run(
    'pgbench',
    [
      '-n',
      '-S',
      '-M',
      mode,
      '-c',
      String(clients),
      '-j',
      String(Math.min(clients, 2)),
      '-T',
      String(seconds),
      target.conninfo,
    ],
    { env: { PGPASSWORD: target.password }, timeoutMs: (seconds + 60) * 1000 },
  );
  const tps = /tps = ([\d.]+) \((?:without|excluding)/.exec(result.stdout)?.[1];
  if (result.code !== 0 || !tps)
    throw new Error(`pgbench on ${target.name} failed: ${result.stderr}${result.stdout}`);
  return Number(tps);
}

async function main(): Promise<void> {
  const postern = await PosternProcess.start({ env: { POSTERN_LOG_LEVEL: 'error' } });
  const plain = await PosternProcess.start({
    env: { POSTERN_LOG_LEVEL: 'error', POSTERN_TLS: 'off' },
  });
  const work = await mkdtemp(path.join(tmpdir(), 'postern-bench-'));
  await run('chmod', ['755', work]);
  let bouncer: { port: number; stop: () => void } | undefined;
  try {
    const upstream = await upstreamOf(postern);
    bouncer = await startPgBouncer(work, upstream, path.join(postern.workDir, 'certs'));
    const direct = `host=${upstream.socketDir} port=${upstream.port} user=${upstream.writer_role} dbname=${upstream.physical_name} sslmode=disable`;
    const init = await run('pgbench', ['-i', '-s', '10', '-q', direct], {
      env: { PGPASSWORD: upstream.writer_password },
    });
    if (init.code !== 0) throw new Error(init.stderr);
    const plainUpstream = await upstreamOf(plain);
    const plainInit = await run(
      'pgbench',
      [
        '-i',
        '-s',
        '10',
        '-q',
        `host=${plainUpstream.socketDir} port=${plainUpstream.port} user=${plainUpstream.writer_role} dbname=${plainUpstream.physical_name} sslmode=disable`,
      ],
      { env: { PGPASSWORD: plainUpstream.writer_password } },
    );
    if (plainInit.code !== 0) throw new Error(plainInit.stderr);

    const targets: Target[] = [
      {
        name: 'PostgreSQL direct (Unix socket, no TLS)',
        conninfo: direct,
        password: upstream.writer_password,
      },
      {
        name: 'PgBouncer 1.18 session pool, TLS',
        conninfo: `host=localhost port=${bouncer.port} user=${upstream.writer_role} dbname=bench sslmode=require`,
        password: upstream.writer_password,
      },
      {
        name: 'PgBouncer 1.18 session pool, no TLS',
        conninfo: `host=127.0.0.1 port=${bouncer.port} user=${upstream.writer_role} dbname=bench sslmode=disable`,
        password: upstream.writer_password,
      },
      {
        name: 'Postern, TLS',
        conninfo: `host=localhost port=${postern.wirePort} user=admin dbname=admin/main sslmode=require`,
        password: ADMIN_PASSWORD,
      },
      {
        name: 'Postern, no TLS (POSTERN_TLS=off)',
        conninfo: `host=127.0.0.1 port=${plain.wirePort} user=admin dbname=admin/main sslmode=disable`,
        password: ADMIN_PASSWORD,
      },
    ];
    const lines = [
      '| path | simple tps | ratio | prepared tps | ratio |',
      '| --- | ---: | ---: | ---: | ---: |',
    ];
    let base: { simple: number; prepared: number } | undefined;
    for (const target of targets) {
      const simple = await pgbench(target, 'simple');
      const prepared = await pgbench(target, 'prepared');
      base ??= { simple, prepared };
      lines.push(
        `| ${target.name} | ${simple.toFixed(0)} | ${(simple / base.simple).toFixed(2)} | ${prepared.toFixed(0)} | ${(prepared / base.prepared).toFixed(2)} |`,
      );
      console.log(lines.at(-1));
    }
    await writeResults('pgbench select-only: direct vs PgBouncer vs Postern', lines.join('\n'), [
      `pgbench -n -S -c ${clients} -j ${Math.min(clients, 2)} -T ${seconds}, scale 10, -M simple and -M prepared; one run per cell, all on one 2-core machine (pgbench, proxy and PostgreSQL share the cores).`,
      'Ratios are tps divided by direct PostgreSQL tps. The Postern "no TLS" row is a second gateway with its own embedded PostgreSQL initialised the same way.',
    ]);
  } finally {
    bouncer?.stop();
    await postern.dispose();
    await plain.dispose();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
