import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { psql } from '../support/clients';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ensureDevCertificates } from '#tls';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import {
  connectRaw,
  connectTls,
  MessageStream,
  SSL_REQUEST,
  startupMessage,
} from '../support/raw-client';

describe('login policies: throttling, startup timeout, cleartext (issue 3)', () => {
  let postern: PosternProcess;
  let ca: string;

  before(async () => {
    postern = await PosternProcess.start({
      env: {
        POSTERN_LOGIN_MAX_FAILURES: '3',
        POSTERN_AUTH_TIMEOUT: '1s',
        POSTERN_AUTH_CLEARTEXT: 'on',
      },
    });
    ca = await postern.ca();
  });
  after(() => postern.dispose());

  const loginCode = async (user: string, password: string) => {
    const client = new pg.Client({
      host: 'localhost',
      port: postern.wirePort,
      user,
      password,
      database: `${user}/main`,
      ssl: { ca, servername: 'localhost' },
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return 'connected';
    } catch (err) {
      return (err as { code?: string }).code ?? (err as Error).message;
    }
  };

  test('POSTERN_AUTH_CLEARTEXT=on: psql logs in with a password over TLS (PasswordMessage)', async () => {
    const result = await psql(postern.conninfo('admin', 'admin/main'), ADMIN_PASSWORD, 'SELECT 1;');
    assert.equal(result.code, 0, result.stderr);

    const socket = await connectTls(postern.wirePort, ca);
    const stream = new MessageStream(socket);
    socket.write(startupMessage({ user: 'admin', database: 'admin/main' }));
    const request = await stream.next();
    assert.equal(request?.type, 'R');
    assert.equal(request!.body.readInt32BE(0), 3, 'AuthenticationCleartextPassword');
    socket.destroy();
  });

  test('cleartext is never offered without TLS, even when configured', async () => {
    const socket = await connectRaw(postern.wirePort);
    const stream = new MessageStream(socket);
    socket.write(startupMessage({ user: 'admin', database: 'admin/main' }));
    const answer = await stream.next();
    assert.equal(answer?.type, 'E', 'TLS is required: 28000 before any authentication request');
    socket.destroy();
  });

  test('throttling: after N failures a user is blocked, even with the right password, with the same 28P01', async () => {
    for (let i = 0; i < 3; i++) assert.equal(await loginCode('admin', `wrong-${i}`), '28P01');
    assert.equal(await loginCode('admin', ADMIN_PASSWORD), '28P01');
  });

  test('certificate reload without restart (file change, SIGHUP): new connections get the new one', async () => {
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
  });

  test('PROTO-05: a client that never finishes its startup is closed at POSTERN_AUTH_TIMEOUT without a message', async () => {
    const silent = await connectRaw(postern.wirePort);
    const silentStream = new MessageStream(silent);
    await silentStream.untilClosed();
    assert.equal(silentStream.received, 0);

    const halfTls = await connectRaw(postern.wirePort);
    const halfStream = new MessageStream(halfTls);
    halfTls.write(SSL_REQUEST);
    await new Promise((resolve) => setTimeout(resolve, 100));
    halfTls.write(Buffer.from([0x16, 0x03, 0x01]));
    await halfStream.untilClosed();
    assert.equal(halfStream.received, 1, 'only the S answer');
  });
});
