import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ensureDevCertificates } from '#tls';
import { AdminHttp, type AdminSession } from '../support/admin-http';
import { psql, python } from '../support/clients';
import { compileJava } from '../support/java';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import {
  connectRaw,
  connectTls,
  errorFields,
  GSSENC_REQUEST,
  MessageStream,
  scramLogin,
  SSL_REQUEST,
  startupMessage,
} from '../support/raw-client';

describe('logins: tokens over SCRAM, channel binding, TLS hardening (issue 3)', () => {
  let postern: PosternProcess;
  let ca: string;
  let api: AdminSession;

  before(async () => {
    postern = await PosternProcess.start();
    ca = await postern.ca();
    api = await AdminHttp.of(postern).session();
  });
  after(() => postern.dispose());

  const connect = (password: string, overrides: pg.ClientConfig = {}) =>
    postern.connect({ password, ...overrides });
  const loginCode = async (password: string, overrides: pg.ClientConfig = {}) => {
    try {
      await (await connect(password, overrides)).end();
      return 'connected';
    } catch (err) {
      return (err as { code?: string }).code ?? (err as Error).message;
    }
  };

  test('SCRAM-09: a token pasted as the password logs in with psql, psycopg2 and pgJDBC', async () => {
    const { token } = await api.createToken('admin', { name: 'clients' });
    assert.match(token, /^pst_[A-Za-z0-9]+_[A-Za-z0-9]+$/);

    const viaPsql = await psql(postern.conninfo('admin', 'admin/main'), token, 'SELECT 1 AS ok;');
    assert.equal(viaPsql.code, 0, viaPsql.stderr);

    const viaPython = await python(
      `import sys, psycopg2
conn = psycopg2.connect(host="localhost", port=sys.argv[1], user="admin", password=sys.argv[2],
                        dbname="admin/main", sslmode="verify-full", sslrootcert=sys.argv[3])
cur = conn.cursor(); cur.execute("SELECT 6 * 7"); print(cur.fetchone()[0])`,
      [String(postern.wirePort), token, postern.caFile],
    );
    assert.equal(viaPython.code, 0, viaPython.stderr);
    assert.equal(viaPython.stdout.trim(), '42');

    const tokenLogin = await compileJava('TokenLogin');
    const url = `jdbc:postgresql://localhost:${postern.wirePort}/admin%2Fmain`;
    const viaJdbc = await tokenLogin([url, 'admin', token, postern.caFile]);
    assert.equal(viaJdbc.stdout.trim(), 'answer=42', viaJdbc.stderr);
    const wrongJdbc = await tokenLogin([url, 'admin', `${token}x`, postern.caFile]);
    assert.equal(wrongJdbc.stdout.trim(), 'sqlstate=28P01', wrongJdbc.stderr);
  });

  test('SCRAM-03: libpq channel_binding=require logs in with SCRAM-SHA-256-PLUS (password and token)', async () => {
    const { token } = await api.createToken('admin', { name: 'plus' });
    for (const secret of [ADMIN_PASSWORD, token]) {
      const result = await psql(
        postern.conninfo('admin', 'admin/main', 'sslmode=verify-full channel_binding=require'),
        secret,
        'SELECT 1;',
      );
      assert.equal(result.code, 0, result.stderr);
    }
  });

  test('a revoked token is refused and its open session ends', async () => {
    const { id, token } = await api.createToken('admin', { name: 'to revoke' });
    const session = await connect(token);
    const ended = new Promise<Error>((resolve) => session.once('error', resolve));
    assert.equal((await api.request('DELETE', `/tokens/${id}`)).status, 204);
    const error = (await ended) as Error & { code?: string };
    assert.equal(error.code, '57P01');
    await assert.rejects(session.query('SELECT 1'));
    assert.equal(await loginCode(token), '28P01');
    assert.equal(await loginCode(ADMIN_PASSWORD), 'connected', 'the password is unaffected');
  });

  test('an expired token is refused, and a session it opened ends when it expires', async () => {
    const expiresAt = new Date(Date.now() + 3000).toISOString();
    const { token } = await api.createToken('admin', { name: 'short', expiresAt });
    const session = await connect(token);
    const ended = new Promise<Error>((resolve) => session.once('error', resolve));
    assert.equal(((await ended) as { code?: string }).code, '57P01');
    assert.equal(await loginCode(token), '28P01');
  });

  test('a token scoped to one database is refused on another with 28P01; maxLevel caps the level', async () => {
    const created = await api.request('POST', '/databases', { owner: 'admin', name: 'second' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { token } = await api.createToken('admin', {
      name: 'scoped',
      databases: ['admin/second'],
      maxLevel: 'read-only',
    });
    assert.equal(await loginCode(token, { database: 'admin/main' }), '28P01');
    const client = await connect(token, { database: 'admin/second' });
    try {
      const { rows } = await client.query<{ current_user: string }>('SELECT current_user');
      assert.match(rows[0]!.current_user, /_reader$/, 'read-only cap -> reader role');
      await assert.rejects(client.query('CREATE TABLE t (id int)'), (err: { code?: string }) =>
        ['42501', '25006'].includes(err.code ?? ''),
      );
    } finally {
      await client.end();
    }
  });

  test('SCRAM-07: unknown user and wrong password get byte-identical ErrorResponses', async () => {
    const failure = async (user: string) => {
      const socket = await connectTls(postern.wirePort, ca);
      const { messages } = await scramLogin(
        socket,
        { user, database: 'admin/main' },
        'wrong-password',
      );
      socket.destroy();
      const last = messages.at(-1)!;
      assert.equal(last.type, 'E');
      return last.body;
    };
    const wrongPassword = await failure('admin');
    const unknownUser = await failure('no-such-user');
    assert.deepEqual(unknownUser, wrongPassword);
    assert.equal(errorFields(wrongPassword).C, '28P01');
  });

  test('TLS-01b: junk after GSSENCRequest is refused; TLS-01c: a fragmented SSLRequest still works', async () => {
    const gss = await connectRaw(postern.wirePort);
    const gssStream = new MessageStream(gss);
    gss.write(Buffer.concat([GSSENC_REQUEST, startupMessage({ user: 'admin' })]));
    const rest = await gssStream.untilClosed();
    assert.match(rest.toString('latin1'), /C08P01\0Mreceived unencrypted data after GSSAPI/);

    const raw = await connectRaw(postern.wirePort);
    raw.write(SSL_REQUEST.subarray(0, 3));
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.write(SSL_REQUEST.subarray(3));
    const answer = await new Promise<Buffer>((resolve) => raw.once('data', resolve));
    assert.equal(answer.toString(), 'S');
    const secure = tls.connect({ socket: raw, ca, servername: 'localhost' });
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    const { messages } = await scramLogin(
      secure,
      { user: 'admin', database: 'admin/main' },
      ADMIN_PASSWORD,
    );
    assert.equal(messages.at(-1)!.type, 'Z');
    secure.destroy();
  });

  test('TLS-05: direct TLS needs ALPN "postgresql"', async () => {
    const direct = (ALPNProtocols?: string[]) =>
      new Promise<tls.TLSSocket>((resolve, reject) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port: postern.wirePort,
          ca,
          servername: 'localhost',
          ALPNProtocols,
        });
        socket.once('secureConnect', () => resolve(socket));
        socket.once('error', reject);
      });
    // TLS-05a
    const ok = await direct(['postgresql']);
    assert.equal(ok.alpnProtocol, 'postgresql');
    const { messages } = await scramLogin(
      ok,
      { user: 'admin', database: 'admin/main' },
      ADMIN_PASSWORD,
    );
    assert.equal(messages.at(-1)!.type, 'Z');
    ok.destroy();
    // TLS-05b: handshake completes, then a close without any message
    const noAlpn = await direct();
    const stream = new MessageStream(noAlpn);
    noAlpn.write(startupMessage({ user: 'admin' }));
    await stream.untilClosed();
    assert.equal(stream.received, 0);
    // TLS-05c: another protocol is refused by the TLS alert no_application_protocol
    await assert.rejects(direct(['http/1.1']), /no application protocol/i);
  });

  test('PROTO-02: protocol 3.2, grease 3.9999 and _pq_ options get one NegotiateProtocolVersion', async () => {
    const cases: Array<[number, Record<string, string>, string[]]> = [
      [0x00030002, {}, []],
      [0x0003270f, { '_pq_.test_protocol_negotiation': 'x' }, ['_pq_.test_protocol_negotiation']],
      [0x00030000, { '_pq_.foo': 'bar' }, ['_pq_.foo']],
    ];
    for (const [version, extra, unsupported] of cases) {
      const socket = await connectTls(postern.wirePort, ca);
      const { messages } = await scramLogin(
        socket,
        { user: 'admin', database: 'admin/main', ...extra },
        ADMIN_PASSWORD,
        { version },
      );
      socket.destroy();
      const negotiations = messages.filter((m) => m.type === 'v');
      assert.equal(negotiations.length, 1);
      assert.equal(messages[0]!.type, 'v', 'before authentication');
      const body = negotiations[0]!.body;
      assert.equal(body.readInt32BE(0), 0x00030000);
      assert.equal(body.readInt32BE(4), unsupported.length);
      assert.deepEqual(body.subarray(8).toString().split('\0').filter(Boolean), unsupported);
      assert.equal(messages.at(-1)!.type, 'Z');
    }
    const plain = await connectTls(postern.wirePort, ca);
    const { messages } = await scramLogin(
      plain,
      { user: 'admin', database: 'admin/main' },
      ADMIN_PASSWORD,
    );
    plain.destroy();
    assert.equal(messages.filter((m) => m.type === 'v').length, 0, '3.0 without options: no v');
  });

  test('PROTO-07: identity-changing startup parameters are refused with 08P01; settings apply', async () => {
    for (const [key, value] of [
      ['replication', 'database'],
      ['role', 'pdb_x_writer'],
      ['session_authorization', 'postgres'],
      ['local_preload_libraries', 'x'],
      ['options', '-c search_path=public -c role=postgres'],
      ['options', '--session_authorization=postgres'],
    ]) {
      const socket = await connectTls(postern.wirePort, ca);
      const { messages } = await scramLogin(
        socket,
        { user: 'admin', database: 'admin/main', [key!]: value! },
        ADMIN_PASSWORD,
      );
      socket.destroy();
      const last = messages.at(-1)!;
      assert.equal(last.type, 'E', `${key}=${value} must be refused`);
      assert.equal(errorFields(last.body).C, '08P01', `${key}=${value}`);
      assert.ok(!messages.some((m) => m.type === 'R'), 'refused before authentication');
    }
    const client = await connect(ADMIN_PASSWORD, {
      options: '-c search_path=pg_catalog,public -c statement_timeout=5000',
      application_name: 'logins-test',
    });
    try {
      const { rows } = await client.query(
        "SELECT current_setting('search_path') AS path, current_setting('statement_timeout') AS timeout, current_setting('application_name') AS app",
      );
      assert.deepEqual(rows[0], { path: 'pg_catalog,public', timeout: '5s', app: 'logins-test' });
    } finally {
      await client.end();
    }
  });

  test('PROTO-06a: a query pipelined before authentication is a protocol violation', async () => {
    const socket = await connectTls(postern.wirePort, ca);
    const stream = new MessageStream(socket);
    socket.write(
      Buffer.concat([
        startupMessage({ user: 'admin', database: 'admin/main' }),
        Buffer.from('Q\0\0\0\rSELECT 1\0', 'latin1'),
      ]),
    );
    const sasl = await stream.next();
    assert.equal(sasl?.type, 'R');
    const error = await stream.next();
    assert.equal(error?.type, 'E');
    assert.equal(errorFields(error!.body).C, '08P01');
    assert.equal(await stream.next(), null);
  });

  test('PROTO-01: a startup packet over 10,000 bytes is refused before it is buffered', async () => {
    const socket = await connectRaw(postern.wirePort);
    const stream = new MessageStream(socket);
    socket.write(startupMessage({ user: 'admin', application_name: 'x'.repeat(10_001) }));
    await stream.untilClosed();
    assert.equal(await loginCode(ADMIN_PASSWORD), 'connected');
  });

  // Last: it replaces the server certificate the tests above were served.
  test('SCRAM-03: after a certificate reload, SCRAM-SHA-256-PLUS binds to the certificate the connection was served', async () => {
    const fingerprint = async () => {
      const socket = await connectTls(postern.wirePort, ca);
      const value = socket.getPeerCertificate().fingerprint256;
      socket.destroy();
      return value;
    };
    const before = await fingerprint();
    // Removing the server pair makes ensureDevCertificates issue a new one under the same CA.
    const certs = path.join(postern.workDir, 'certs');
    await rm(path.join(certs, 'server.crt'));
    await rm(path.join(certs, 'server.key'));
    await ensureDevCertificates(certs);
    process.kill(postern.pid, 'SIGHUP');
    let after = before;
    for (let i = 0; i < 50 && after === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await fingerprint();
    }
    assert.notEqual(after, before);
    const plus = await psql(
      postern.conninfo('admin', 'admin/main', 'sslmode=verify-full channel_binding=require'),
      ADMIN_PASSWORD,
      'SELECT 1;',
    );
    assert.equal(plus.code, 0, plus.stderr);
  });
});
