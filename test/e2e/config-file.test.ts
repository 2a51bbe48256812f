import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ensureDevCertificates } from '#tls';
import { CLI } from '../support/cli';
import { run } from '../support/clients';
import { PosternProcess } from '../support/postern-process';

const MAIN = path.resolve(__dirname, '..', '..', 'apps', 'server', 'src', 'main.js');

async function workDirWith(files: Record<string, string>): Promise<string> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'postern-config-e2e-'));
  await chmod(workDir, 0o711);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(workDir, name), text);
  return workDir;
}

/** Resolves once `pattern` appears in the gateway's output (the test's own timeout bounds it). */
async function logShows(postern: PosternProcess, pattern: RegExp): Promise<string> {
  for (;;) {
    const match = pattern.exec(postern.log);
    if (match) return match[0];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The SHA-256 fingerprint of the certificate a TLS listener presents. */
function presentedFingerprint(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host, port, servername: 'localhost', rejectUnauthorized: false },
      () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

function httpsStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, servername: 'localhost' }, (response) => {
        response.resume();
        resolve(response.statusCode!);
      })
      .on('error', reject);
  });
}

// The loops below wait for a log line or a new certificate; a gateway that never shows it fails here.
describe('configuration of the real gateway', { timeout: 120_000 }, () => {
  test('OPS-06h an invalid configuration stops the start with status 2 and one line per problem, values unsaid', async () => {
    const workDir = await workDirWith({
      'postern.toml':
        'port = "not-a-port-secret"\npool_siz = 4\n[postgres]\nshared_buffers = "lots-secret"\n',
    });
    try {
      const env = { POSTERN_DATA_DIR: path.join(workDir, 'data'), POSTERN_STATMENT_TIMEOUT: '1s' };
      const direct = await run(process.execPath, [MAIN, '--auth-timeout', 'soon-secret'], {
        cwd: workDir,
        env,
      });
      assert.equal(direct.code, 2, direct.stderr);
      assert.deepEqual(direct.stderr.trimEnd().split('\n'), [
        'postern: POSTERN_STATMENT_TIMEOUT is not a Postern setting (did you mean POSTERN_STATEMENT_TIMEOUT?)',
        'postern: pool_siz in postern.toml is not a Postern setting',
        'postern: port in postern.toml must be a port number between 0 and 65535',
        'postern: --auth-timeout must be a duration such as 500ms, 10s, 2m or 1h',
        'postern: postgres.shared_buffers in postern.toml must be a size such as 8MB or 1GB',
      ]);
      assert.doesNotMatch(direct.stderr, /secret/);
      // The same through `postern start`, and an unknown flag.
      const viaCli = await run(process.execPath, [CLI, 'start', '--pool-size', '0'], {
        cwd: workDir,
        env,
      });
      assert.equal(viaCli.code, 2, viaCli.stderr);
      assert.match(viaCli.stderr, /^postern: --pool-size must be an integer of at least 1$/m);
      const unknownFlag = await run(process.execPath, [MAIN, '--pool-siz', '3'], {
        cwd: workDir,
        env,
      });
      assert.equal(unknownFlag.code, 2);
      assert.match(unknownFlag.stderr, /^postern: Unknown option '--pool-siz'/);
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  });

  test('OPS-06i SIGHUP reloads the file: guardrails and log level now, one line naming them and what needs a restart', async () => {
    const workDir = await workDirWith({
      'postern.toml':
        'log_level = "warn"\n[postgres]\nmax_connections = 123\nmax_prepared_transactions = 7\n',
    });
    // The log level comes from the file, not the harness's environment.
    const postern = await PosternProcess.start({ workDir, env: { POSTERN_LOG_LEVEL: undefined } });
    try {
      const before = await postern.connect();
      // The embedded PostgreSQL's settings from the file.
      const shown = await before.query(
        "SELECT current_setting('max_connections') AS max, current_setting('max_prepared_transactions') AS prepared",
      );
      assert.deepEqual(shown.rows, [{ max: '123', prepared: '7' }]);
      await before.query('SELECT pg_sleep(0.5)');
      // Keys outside [postgres] must come before it in TOML: rewrite in that order.
      await writeFile(
        path.join(workDir, 'postern.toml'),
        'statement_timeout = "200ms"\nlog_level = "info"\npool_size = 4\n' +
          '[postgres]\nmax_connections = 123\nmax_prepared_transactions = 7\n',
      );
      process.kill(postern.pid, 'SIGHUP');
      const line = await logShows(postern, /SIGHUP: reloaded [\w .,;:]*/);
      assert.match(
        line,
        /^SIGHUP: reloaded logLevel, guardrails\.statementTimeoutMs; needs a restart: pool\.size, pool\.sizePerUser$/,
      );
      // info is on now: the certificate's own SIGHUP line, written at info, shows.
      await logShows(postern, /SIGHUP: certificate unchanged/);
      const after = await postern.connect();
      await assert.rejects(after.query('SELECT pg_sleep(1)'), { code: '57014' });
      await after.end();
      await before.end();

      // A file that became invalid: reported, ignored, the gateway goes on as it was.
      await writeFile(path.join(workDir, 'postern.toml'), 'statement_timeout = "forever"\n');
      process.kill(postern.pid, 'SIGHUP');
      const refused = await logShows(postern, /SIGHUP: settings not reloaded[\w .,:]*/);
      assert.equal(
        refused,
        'SIGHUP: settings not reloaded, keeping the current ones: statement_timeout in postern.toml must be a duration such as 500ms, 10s, 2m or 1h',
      );
      const still = await postern.connect();
      await assert.rejects(still.query('SELECT pg_sleep(1)'), { code: '57014' });
      await still.end();
    } finally {
      await postern.dispose();
    }
  });

  test('OPS-07b the HTTP API serves TLS with the wire certificate on its own address', async () => {
    // The wire on 127.0.0.1 (default), the API on another loopback address only.
    const postern = await PosternProcess.start({
      noWait: true,
      env: { POSTERN_HTTP_TLS: 'on', POSTERN_HTTP_HOST: '127.0.0.3' },
    });
    try {
      let status = 0;
      while (status !== 200) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        try {
          status = await httpsStatus(
            `https://127.0.0.3:${postern.httpPort}/readyz`,
            await postern.ca(),
          );
        } catch {
          // not listening yet
        }
      }
      assert.match(
        postern.log,
        new RegExp(`HTTP API +https://127\\.0\\.0\\.3:${postern.httpPort}/api/v1`),
      );
      // Not on the wire's address, and no plaintext HTTP.
      await assert.rejects(fetch(`http://127.0.0.1:${postern.httpPort}/healthz`));
      await assert.rejects(fetch(`http://127.0.0.3:${postern.httpPort}/healthz`));
      const client = await postern.connect();
      assert.deepEqual((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
      await client.end();

      // A new certificate (same CA) replaces the files; SIGHUP: HTTPS presents it.
      const first = await presentedFingerprint('127.0.0.3', postern.httpPort);
      const certs = path.join(postern.workDir, 'certs');
      const staging = await mkdtemp(path.join(postern.workDir, 'staging-'));
      for (const name of ['ca.crt', 'ca.key']) {
        await copyFile(path.join(certs, name), path.join(staging, name));
      }
      await ensureDevCertificates(staging);
      await rename(path.join(staging, 'server.key'), path.join(certs, 'server.key'));
      await rename(path.join(staging, 'server.crt'), path.join(certs, 'server.crt'));
      process.kill(postern.pid, 'SIGHUP');
      let now = first;
      while (now === first) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        now = await presentedFingerprint('127.0.0.3', postern.httpPort);
      }
      assert.equal(
        await httpsStatus(`https://127.0.0.3:${postern.httpPort}/readyz`, await postern.ca()),
        200,
      );
    } finally {
      await postern.dispose();
    }
  });
});
