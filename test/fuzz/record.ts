/**
 * Records the fuzzing corpus: real client sessions through the real gateway.
 *
 *   npm run build && node dist/test/fuzz/record.js
 *
 * Starts the gateway with POSTERN_TLS=prefer and a recording TCP proxy in
 * front of it, has psql, psycopg2 (Debian's /usr/bin/python3), pgJDBC and
 * node-postgres each run a small session in plaintext (SCRAM login, simple
 * and extended queries, a transaction, an error, COPY FROM STDIN), and
 * writes what each client sent, split into messages, to
 * test/fuzz/corpus/<client>.json. The fuzz test and bench only read those
 * files, so they need neither Java nor Python.
 */
import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { python, run } from '../support/clients';
import { compileJava } from '../support/java';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import { saveRecording, splitClientStream } from './corpus';
import { RecordingProxy } from './recording-proxy';

const PSQL_SCRIPT = `SELECT 1;
BEGIN;
CREATE TEMP TABLE fuzz_psql (id int, name text);
INSERT INTO fuzz_psql VALUES (1, 'one');
COMMIT;
SELECT * FROM fuzz_psql_missing;
COPY fuzz_psql FROM STDIN;
2\ttwo
3\tthree
\\.
SELECT count(*) FROM fuzz_psql;
`;

const PSYCOPG2_SCRIPT = `
import io, sys, psycopg2
conn = psycopg2.connect(host="127.0.0.1", port=sys.argv[1], user="admin", password=sys.argv[2],
                        dbname="admin/main", sslmode="disable", gssencmode="disable")
cur = conn.cursor()
cur.execute("CREATE TEMP TABLE fuzz_py (id int, name text)")
cur.execute("INSERT INTO fuzz_py VALUES (%s, %s)", (1, "one"))
conn.commit()
cur.execute("SELECT id, name FROM fuzz_py WHERE id = %s", (1,))
cur.fetchall()
try:
    cur.execute("SELECT 1/0")
except psycopg2.Error:
    conn.rollback()
cur.copy_from(io.StringIO("2\\ttwo\\n3\\tthree\\n"), "fuzz_py")
conn.commit()
named = conn.cursor(name="fuzz_named")
named.execute("SELECT generate_series(1, 5)")
named.fetchmany(2)
named.close()
conn.commit()
conn.close()
print("ok")
`;

async function nodePostgresSession(port: number): Promise<void> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'admin',
    password: ADMIN_PASSWORD,
    database: 'admin/main',
    ssl: false,
  });
  await client.connect();
  await client.query('CREATE TEMP TABLE fuzz_node (id int, name text)');
  await client.query('BEGIN');
  await client.query('INSERT INTO fuzz_node VALUES ($1, $2)', [1, 'one']);
  await client.query({
    name: 'fuzz_select',
    text: 'SELECT id, name FROM fuzz_node WHERE id = $1',
    values: [1],
  });
  await client.query('COMMIT');
  await client.query('SELECT 1/0').catch(() => undefined);
  const copy = client.query(copyFrom('COPY fuzz_node FROM STDIN'));
  copy.end('2\ttwo\n3\tthree\n');
  await finished(copy);
  await client.query('SELECT $1::int + 1 AS answer', [41]);
  await client.end();
}

function expectOk(client: string, result: { code: number | null; stdout: string; stderr: string }) {
  if (result.code !== 0) throw new Error(`${client} failed:\n${result.stderr}\n${result.stdout}`);
}

async function main(): Promise<void> {
  const postern = await PosternProcess.start({ env: { POSTERN_TLS: 'prefer' } });
  const proxy = await RecordingProxy.start(postern.wirePort);
  try {
    const sessions: Array<[string, () => Promise<void>]> = [
      [
        'psql',
        async () =>
          expectOk(
            'psql',
            await run(
              'psql',
              [
                '--no-psqlrc',
                `host=127.0.0.1 port=${proxy.port} user=admin dbname=admin/main sslmode=disable gssencmode=disable`,
              ],
              { env: { PGPASSWORD: ADMIN_PASSWORD }, input: PSQL_SCRIPT },
            ),
          ),
      ],
      [
        'psycopg2',
        async () =>
          expectOk('psycopg2', await python(PSYCOPG2_SCRIPT, [String(proxy.port), ADMIN_PASSWORD])),
      ],
      [
        'pgjdbc',
        async () => {
          const program = await compileJava('FuzzSession', 'test/fuzz/java');
          const url = `jdbc:postgresql://127.0.0.1:${proxy.port}/admin%2Fmain`;
          expectOk('pgjdbc', await program([url, 'admin', ADMIN_PASSWORD]));
        },
      ],
      ['node-postgres', () => nodePostgresSession(proxy.port)],
    ];
    for (const [client, session] of sessions) {
      await session();
      // Wait for the proxy to have seen the Terminate of the last connection.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const streams = proxy.take().filter((stream) => stream.length > 16);
      if (streams.length !== 1) throw new Error(`${client}: ${streams.length} connections`);
      const file = await saveRecording({ client, messages: splitClientStream(streams[0]!) });
      console.log(`${client}: ${file}`);
    }
  } finally {
    await proxy.close();
    await postern.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
