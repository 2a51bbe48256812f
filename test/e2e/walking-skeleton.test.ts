import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { psql, python } from '../support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';

describe('walking skeleton: real clients through Postern', () => {
  let postern: PosternProcess;
  let ca: string;

  before(async () => {
    postern = await PosternProcess.start();
    ca = await postern.ca();
  });
  after(() => postern.dispose());

  const nodeClient = (overrides: pg.ClientConfig = {}) =>
    new pg.Client({
      host: 'localhost',
      port: postern.wirePort,
      user: 'admin',
      password: ADMIN_PASSWORD,
      database: 'admin/main',
      ssl: { ca, servername: 'localhost' },
      ...overrides,
    });

  /** Connects and returns the SQLSTATE of the failure (or 'connected'). */
  async function loginOutcome(
    overrides: pg.ClientConfig,
  ): Promise<{ code: string; message: string }> {
    const client = nodeClient(overrides);
    try {
      await client.connect();
      await client.end();
      return { code: 'connected', message: '' };
    } catch (err) {
      const { code, message } = err as { code?: string; message: string };
      return { code: code ?? 'none', message };
    }
  }

  test('psql with sslmode=verify-full: DDL, DML, \\d, \\dt, \\l', async () => {
    const result = await psql(
      postern.conninfo('admin', 'admin/main'),
      ADMIN_PASSWORD,
      [
        'CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);',
        "INSERT INTO notes (body) VALUES ('first'), ('second');",
        'SELECT count(*) AS notes FROM notes;',
        '\\d notes',
        '\\dt',
        '\\l',
        'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid();',
        '\\conninfo',
      ].join('\n'),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /notes\s*\n-+\n\s+2\n/);
    assert.match(result.stdout, /Table "public\.notes"/);
    assert.match(result.stdout, /public \| notes\s+\| table/);
    assert.match(result.stdout, /List of databases/);
    assert.match(result.stdout, /connected to database "admin\/main" as user "admin"/);
    assert.match(result.stdout, /SSL connection \(protocol: TLSv1\.[23]/);
  });

  test('psql refuses a server whose certificate does not match the CA (verify-full is real)', async () => {
    const result = await psql(
      `host=localhost port=${postern.wirePort} user=admin dbname=admin/main sslmode=verify-full sslrootcert=/etc/ssl/certs/ca-certificates.crt`,
      ADMIN_PASSWORD,
      'SELECT 1;',
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /certificate verify failed/);
  });

  test('node-postgres: DDL, DML and a parameterised query', async () => {
    const client = nodeClient();
    await client.connect();
    try {
      await client.query('CREATE TABLE people (id int PRIMARY KEY, name text, born date)');
      await client.query('INSERT INTO people VALUES ($1, $2, $3), ($4, $5, $6)', [
        1,
        'Ada',
        '1815-12-10',
        2,
        'Grace',
        '1906-12-09',
      ]);
      const { rows } = await client.query<{ name: string }>(
        'SELECT name FROM people WHERE id = $1',
        [2],
      );
      assert.deepEqual(rows, [{ name: 'Grace' }]);
      const updated = await client.query('UPDATE people SET name = upper(name)');
      assert.equal(updated.rowCount, 2);
    } finally {
      await client.end();
    }
  });

  test('psycopg2 (Debian python3): DDL, DML and a parameterised query', async () => {
    const script = `
import sys, psycopg2
port, password, ca = sys.argv[1], sys.argv[2], sys.argv[3]
conn = psycopg2.connect(host="localhost", port=port, user="admin", password=password,
                        dbname="admin/main", sslmode="verify-full", sslrootcert=ca)
cur = conn.cursor()
cur.execute("CREATE TABLE py_items (id int PRIMARY KEY, label text)")
cur.executemany("INSERT INTO py_items VALUES (%s, %s)", [(1, "one"), (2, "two"), (3, "three")])
conn.commit()
cur.execute("SELECT label FROM py_items WHERE id > %s ORDER BY id", (1,))
print(",".join(row[0] for row in cur.fetchall()))
conn.close()
`;
    const result = await python(script, [String(postern.wirePort), ADMIN_PASSWORD, postern.caFile]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'two,three');
  });

  test('wrong password -> 28P01, and an unknown user gets the byte-identical message', async () => {
    const wrong = await loginOutcome({ password: 'not-the-password' });
    assert.equal(wrong.code, '28P01');
    const unknown = await loginOutcome({ user: 'nobody', password: 'not-the-password' });
    assert.equal(unknown.code, '28P01');
    assert.equal(unknown.message, wrong.message, 'no hint whether the user exists');
  });

  test('plaintext while TLS is required -> 28000', async () => {
    const outcome = await loginOutcome({ ssl: false });
    assert.equal(outcome.code, '28000');
    assert.match(outcome.message, /requires TLS/);
  });

  test('unknown database -> 3D000, after a correct login only', async () => {
    const missing = await loginOutcome({ database: 'admin/nope' });
    assert.equal(missing.code, '3D000');
    const otherOwner = await loginOutcome({ database: 'someone/main' });
    assert.equal(otherOwner.code, '3D000');
    const wrongPassword = await loginOutcome({ database: 'admin/nope', password: 'x' });
    assert.equal(wrongPassword.code, '28P01', 'existence is not revealed before authentication');
  });

  test('TLS-01a: plaintext pipelined after SSLRequest is refused, never upgraded', async () => {
    const startup = startupMessage({ user: 'admin', database: 'admin/main' });
    const reply = await rawExchange(
      postern.wirePort,
      Buffer.concat([Buffer.from('0000000804d2162f', 'hex'), startup]),
    );
    assert.notEqual(reply[0], 0x53, 'must not answer S');
    assert.match(reply.toString('latin1'), /C08P01\0Mreceived unencrypted data after SSL request/);
  });

  test('PROTO-01: a bad startup length closes the connection and the gateway keeps serving', async () => {
    for (const header of ['7fffffff00030000', '00000007', 'ffffffff00030000']) {
      await rawExchange(postern.wirePort, Buffer.from(header, 'hex'));
    }
    const client = nodeClient();
    await client.connect();
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
    await client.end();
  });
});

function startupMessage(params: Record<string, string>): Buffer {
  const pairs = Object.entries(params).flatMap(([k, v]) => [k, v]);
  const body = Buffer.concat([
    Buffer.from([0, 3, 0, 0]),
    ...pairs.map((s) => Buffer.from(`${s}\0`)),
    Buffer.from([0]),
  ]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([length, body]);
}

/** Writes bytes on a plain TCP connection and collects everything until close. */
function rawExchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.setTimeout(15_000, () => socket.destroy(new Error('no close within 15 s')));
  });
}
