import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { python } from '../support/clients';
import { ControlFixtures } from '../support/control-fixtures';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import { cancelRequest, connectRaw, MessageStream } from '../support/raw-client';

/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 60_000 };

const processId = (client: pg.Client) => (client as unknown as { processID: number }).processID;
const secretKey = (client: pg.Client) => {
  const key = Buffer.alloc(4);
  key.writeInt32BE((client as unknown as { secretKey: number }).secretKey);
  return key;
};
const backendPid = async (client: pg.Client) =>
  (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;

/**
 * BackendKeyData is the backend (FIDELITY-PID): the pid a client is given is
 * its upstream backend's, so pg_terminate_backend, pg_stat_activity and
 * NOTIFY sender checks by one's own pid work; the secret key stays the
 * gateway's, fresh per client session.
 */
describe('client fidelity: the BackendKeyData pid is the upstream backend pid', () => {
  let postern: PosternProcess;

  before(async () => {
    postern = await PosternProcess.start();
  });
  after(() => postern.dispose());

  test('FIDELITY-PID node-postgres: processID === pg_backend_pid()', LIMIT, async () => {
    const client = await postern.connect();
    try {
      assert.equal(processId(client), await backendPid(client));
      const seen = await client.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1',
        [processId(client)],
      );
      assert.equal(seen.rows[0].n, 1, 'pg_stat_activity finds the session by its own pid');
    } finally {
      await client.end();
    }
  });

  test(
    'FIDELITY-PID pg_terminate_backend(own processID) ends the session with 57P01',
    LIMIT,
    async () => {
      const client = await postern.connect();
      const ended = new Promise<Error & { code?: string }>((resolve) =>
        client.on('error', resolve),
      );
      const result = await client
        .query('SELECT pg_terminate_backend($1) AS ok', [processId(client)])
        .then(
          (r) => (r.rows[0] as { ok: boolean }).ok,
          (err: { code?: string }) => err.code,
        );
      // PostgreSQL ends its own backend before the answer: the statement fails with 57P01.
      assert.equal(result, '57P01');
      await ended; // and the connection is closed
      await client.end().catch(() => undefined);
    },
  );

  test(
    'FIDELITY-PID psycopg2: conn.info.backend_pid is pg_backend_pid(), notifications name it',
    LIMIT,
    async () => {
      const result = await python(
        `
import json, select, sys, time, psycopg2
PORT, PASSWORD, CA = sys.argv[1], sys.argv[2], sys.argv[3]
def connect():
    conn = psycopg2.connect(host="localhost", port=PORT, user="admin", password=PASSWORD,
                            dbname="admin/main", sslmode="verify-full", sslrootcert=CA)
    conn.autocommit = True
    return conn
listener, notifier = connect(), connect()
cur = notifier.cursor()
cur.execute("SELECT pg_backend_pid()")
notifier_pid = cur.fetchone()[0]
listener.cursor().execute("LISTEN pid_check")
cur.execute("NOTIFY pid_check")
sender = None
deadline = time.time() + 15
while sender is None and time.time() < deadline:
    if select.select([listener], [], [], 1) == ([], [], []):
        continue
    listener.poll()
    if listener.notifies:
        sender = listener.notifies.pop(0).pid
print(json.dumps({"info_pid": notifier.info.backend_pid, "get_pid": notifier.get_backend_pid(),
                  "backend_pid": notifier_pid, "sender": sender}))
`,
        [String(postern.wirePort), ADMIN_PASSWORD, postern.caFile],
      );
      assert.equal(result.code, 0, result.stderr);
      const out = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
      assert.equal(out.info_pid, out.backend_pid);
      assert.equal(out.get_pid, out.backend_pid);
      assert.equal(out.sender, out.backend_pid, 'the notification names the sender by its own pid');
    },
  );
});

/**
 * A pooled connection keeps its pid from one client to the next, but not
 * the key: with one upstream connection per key (POSTERN_POOL_SIZE=1), the
 * second client waits for the first one's connection to be reset and gets
 * it, and the first client's key cancels nothing of it.
 */
describe('client fidelity: a pooled connection gets a new key with every client', () => {
  let postern: PosternProcess;
  let fixtures: ControlFixtures;

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_POOL_SIZE: '1', POSTERN_POOL_TIMEOUT: '10s' },
    });
    fixtures = await ControlFixtures.connect(postern);
  });
  after(async () => {
    await fixtures.close().catch(() => undefined);
    await postern.dispose();
  });

  /** Whether PostgreSQL runs a statement containing `marker` now (seen as the superuser). */
  const running = (marker: string) =>
    fixtures.superuser('postgres', async (client) => {
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
        [marker],
      );
      return (rows[0] as { n: number }).n > 0;
    });

  test(
    'FIDELITY-PID a stale key of the previous client of a pooled connection cancels nothing',
    LIMIT,
    async () => {
      const first = await postern.connect();
      const pid = processId(first);
      const staleKey = secretKey(first);
      await first.end();
      const second = await postern.connect();
      try {
        assert.equal(processId(second), pid, 'the pooled upstream connection was reused');
        assert.notDeepEqual(secretKey(second), staleKey, 'each client session gets a fresh key');
        const outcome = second.query("SELECT pg_sleep(1.5), 'stale-cancel-marker'").then(
          () => 'completed',
          (err: { code?: string }) => err.code ?? 'failed',
        );
        while (!(await running('stale-cancel-marker'))) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const socket = await connectRaw(postern.wirePort);
        socket.on('error', () => undefined);
        socket.write(cancelRequest(pid, staleKey));
        const messages = new MessageStream(socket);
        await messages.untilClosed();
        assert.equal(messages.received, 0, 'nothing is written to a cancel connection');
        assert.equal(await outcome, 'completed', 'the stale key did not cancel the next client');
      } finally {
        await second.end();
      }
    },
  );
});
