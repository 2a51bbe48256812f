import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { psql } from '../support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import {
  cancelRequest,
  connectRaw,
  connectTls,
  errorFields,
  int32,
  message,
  MessageStream,
  scramLogin,
  SSL_REQUEST,
  startupMessage,
} from '../support/raw-client';

/** Connections that have not finished logging in, per source address and in total (test values). */
const PER_ADDRESS = 64;
const TOTAL = 150;

/** VmRSS / VmHWM of a process, in KiB. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** Writes `total` bytes as fast as the peer takes them; stops quietly when it goes away. */
async function stream(socket: net.Socket | tls.TLSSocket, total: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  for (let sent = 0; sent < total && !socket.destroyed; sent += chunk.length) {
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
  }
}

/** Resolves when the gateway (or the client) has closed the connection. */
function closed(socket: net.Socket): Promise<void> {
  return socket.destroyed
    ? Promise.resolve()
    : new Promise((resolve) => socket.once('close', () => resolve()));
}

describe(
  'hardening: before authentication (HARD-01, -10, -14, -15, -17)',
  { timeout: 120_000 },
  () => {
    let postern: PosternProcess;
    let ca: string;

    before(async () => {
      postern = await PosternProcess.start({
        env: {
          // Plaintext clients get SCRAM, TLS clients the cleartext password exchange.
          POSTERN_TLS: 'prefer',
          POSTERN_AUTH_CLEARTEXT: 'on',
          POSTERN_LOG_LEVEL: 'info',
          POSTERN_MAX_UNAUTHENTICATED: String(TOTAL),
          POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS: String(PER_ADDRESS),
        },
      });
      ca = await postern.ca();
    });
    after(() => postern.dispose());

    const legitimateLogin = async () => {
      const client = await postern.connect();
      try {
        return (await client.query('SELECT 42 AS answer')).rows[0].answer as number;
      } finally {
        await client.end();
      }
    };

    /** StartupMessage, then the first authentication request (or the refusal) from the gateway. */
    const startLogin = async (socket: net.Socket | tls.TLSSocket) => {
      const messages = new MessageStream(socket);
      socket.write(startupMessage({ user: 'mallory', database: 'mallory/db' }));
      return { messages, first: await messages.next() };
    };

    /** 'p' announcing a body of `length` bytes, then a stream of bytes. */
    const hugeAuthMessage = async (socket: net.Socket | tls.TLSSocket, length: number) => {
      const { first } = await startLogin(socket);
      if (first?.type !== 'R') return;
      socket.write(Buffer.concat([Buffer.from('p'), int32(length)]));
      await stream(socket, 2 * 1024 * 1024);
    };

    const hugeNonce = async (socket: net.Socket) => {
      const { messages, first } = await startLogin(socket);
      if (first?.type !== 'R') return null;
      const data = Buffer.from(`n,,n=,r=${'N'.repeat(100 * 1024)}`);
      socket.write(
        message('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), int32(data.length), data])),
      );
      const answer = await messages.next();
      return answer?.type === 'R' ? 'nonce echoed' : null;
    };

    /**
     * One hostile client from `source`: never rejects; resolves once the connection is gone,
     * with what the gateway should not have done, if anything.
     */
    const hostile = async (kind: number, source: string) => {
      let socket: net.Socket | tls.TLSSocket | undefined;
      let wrong: string | null = null;
      try {
        if (kind % 3 === 0) {
          socket = await connectRaw(postern.wirePort, source);
          await hugeAuthMessage(socket, 2 ** 30 - 64);
        } else if (kind % 3 === 1) {
          socket = await connectRaw(postern.wirePort, source);
          wrong = await hugeNonce(socket);
        } else {
          socket = await connectTls(postern.wirePort, ca, source);
          await hugeAuthMessage(socket, 100 * 1024 * 1024);
        }
      } catch {
        // refused or reset by the gateway: that is what it should do
      }
      if (socket) {
        socket.on('error', () => undefined);
        await closed(socket as net.Socket);
      }
      return wrong;
    };

    test('HARD-01 100 hostile pre-authentication clients leave the memory where it was; others still log in', async () => {
      assert.equal(await legitimateLogin(), 42); // warm: first TLS handshake, first login
      const pid = postern.pid;
      // Resets VmHWM to the current RSS, so the peak below is the attack's.
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      const before = memoryOf(pid);

      const sources = ['127.0.0.2', '127.0.0.3'];
      const attack = Array.from({ length: 100 }, (_, i) => hostile(i, sources[i % 2]!));
      const meanwhile = legitimateLogin();
      assert.equal(await meanwhile, 42);
      const wrongs = (await Promise.all(attack)).filter((wrong) => wrong !== null);
      assert.equal(await legitimateLogin(), 42);

      const afterwards = memoryOf(pid);
      const grewKiB = afterwards.peak - before.rss;
      console.log(
        `HARD-01 gateway RSS: before ${before.rss} KiB, peak during attack ${afterwards.peak} KiB, ` +
          `after ${afterwards.rss} KiB (peak growth ${grewKiB} KiB)`,
      );
      assert.deepEqual(wrongs, []);
      assert.ok(grewKiB < 16 * 1024, `the gateway grew by ${grewKiB} KiB during the attack`);
    });

    test('HARD-01 a SCRAM client nonce longer than any client sends is a protocol violation', async () => {
      const socket = await connectRaw(postern.wirePort, '127.0.0.4');
      const { messages, first } = await startLogin(socket);
      assert.equal(first?.type, 'R');
      const data = Buffer.from(`n,,n=,r=${'N'.repeat(4000)}`);
      socket.write(
        message('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), int32(data.length), data])),
      );
      const answer = await messages.next();
      assert.equal(answer?.type, 'E');
      const fields = errorFields(answer!.body);
      assert.equal(fields.C, '08P01');
      assert.equal(fields.M, 'malformed SCRAM message');
      socket.destroy();
    });

    test('HARD-01 unauthenticated connections are limited per source address and in total (53300)', async () => {
      const held: net.Socket[] = [];
      const open = async (source: string) => {
        const socket = await connectRaw(postern.wirePort, source);
        socket.on('error', () => undefined);
        held.push(socket);
        return socket;
      };
      const refusal = async (source: string) => {
        const answer = await new MessageStream(await open(source)).next();
        return answer && { type: answer.type, fields: errorFields(answer.body) };
      };
      try {
        for (let i = 0; i < PER_ADDRESS; i++) await open('127.0.0.5');
        const overAddress = await refusal('127.0.0.5');
        assert.equal(overAddress?.type, 'E');
        assert.equal(overAddress?.fields.C, '53300');
        assert.equal(overAddress?.fields.M, 'sorry, too many clients already');
        assert.equal(await legitimateLogin(), 42, 'another address still logs in');

        for (let i = PER_ADDRESS; i < TOTAL; i++)
          await open(i < 2 * PER_ADDRESS ? '127.0.0.6' : '127.0.0.7');
        const overTotal = await refusal('127.0.0.8');
        assert.equal(overTotal?.fields.C, '53300');
        // libpq sends SSLRequest first and takes the answer as a clear, final error.
        const viaPsql = await psql(
          postern.conninfo('admin', 'admin/main'),
          ADMIN_PASSWORD,
          'SELECT 1',
        );
        assert.notEqual(viaPsql.code, 0);
        console.log(`HARD-01 psql over the limit: ${viaPsql.stderr.trim()}`);
        assert.match(viaPsql.stderr, /error response during SSL exchange|too many clients/);
      } finally {
        for (const socket of held) socket.destroy();
      }
      // The slots come back once those connections are gone.
      for (;;) {
        const socket = await open('127.0.0.5');
        const { first } = await startLogin(socket);
        socket.destroy();
        if (first?.type === 'R') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });

    describe('HARD-10 errors before the startup completed go through TLS', () => {
      const cases: Array<{ name: string; packet: () => Buffer; code: string; text: RegExp }> = [
        {
          name: 'duplicate startup parameter',
          packet: () => {
            const body = Buffer.concat([
              int32(0x00030000),
              Buffer.from('user\0secret-name\0user\0secret-name\0\0'),
            ]);
            return Buffer.concat([int32(body.length + 4), body]);
          },
          code: '08P01',
          text: /duplicate startup parameter "user"/,
        },
        {
          name: 'invalid UTF-8',
          packet: () => {
            const body = Buffer.concat([
              int32(0x00030000),
              Buffer.from('user\0'),
              Buffer.from([0xc3, 0x28, 0]),
              Buffer.from([0]),
            ]);
            return Buffer.concat([int32(body.length + 4), body]);
          },
          code: '08P01',
          text: /invalid UTF-8 in startup packet/,
        },
        {
          name: 'missing user',
          packet: () => startupMessage({ database: 'secret-db' }),
          code: '28000',
          text: /no PostgreSQL user name specified/,
        },
        {
          name: 'bad protocol version',
          packet: () => startupMessage({ user: 'secret-name' }, 0x00020000),
          code: '0A000',
          text: /unsupported frontend protocol/,
        },
        {
          name: 'oversized packet',
          packet: () => Buffer.concat([int32(20_000), int32(0x00030000)]),
          code: '08P01',
          text: /invalid length of startup packet/,
        },
      ];
      for (const { name, packet, code, text } of cases) {
        test(`HARD-10 ${name}: the ErrorResponse is read through the TLS session`, async () => {
          const socket = await connectTls(postern.wirePort, ca);
          const messages = new MessageStream(socket);
          socket.write(packet());
          const answer = await messages.next();
          assert.equal(answer?.type, 'E', `${name}: no ErrorResponse through TLS`);
          const fields = errorFields(answer!.body);
          assert.equal(fields.C, code);
          assert.match(fields.M!, text);
          socket.destroy();
        });
      }
    });

    describe('HARD-14 cancel requests', () => {
      for (const keyLength of [0, 3, 257]) {
        test(`HARD-14 a CancelRequest with a ${keyLength}-byte key gets no answer at all`, async () => {
          const socket = await connectRaw(postern.wirePort);
          const messages = new MessageStream(socket);
          socket.write(cancelRequest(12345, Buffer.alloc(keyLength, 7)));
          await messages.untilClosed();
          assert.equal(messages.received, 0);
        });
      }

      /** A session busy in pg_sleep, and what its query ends with. */
      let sessions = 0;
      /** Once the statement runs upstream: a cancel arriving earlier would find nothing to cancel. */
      const busySession = async () => {
        const client = await postern.connect();
        const marker = `hard14_${++sessions}`;
        const outcome = client.query(`SELECT pg_sleep(30), '${marker}'`).then(
          () => 'completed',
          (err: { code?: string }) => err.code ?? 'failed',
        );
        const observer = await postern.connect();
        try {
          const runningQuery = async () =>
            (
              await observer.query(
                "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
                [marker],
              )
            ).rows[0].n as number;
          while ((await runningQuery()) === 0) await new Promise((r) => setTimeout(r, 20));
        } finally {
          await observer.end();
        }
        const key = Buffer.alloc(4);
        key.writeInt32BE((client as unknown as { secretKey: number }).secretKey);
        const processId = (client as unknown as { processID: number }).processID;
        return { client, outcome, processId, key };
      };
      const sendCancel = async (packet: Buffer, connect = () => connectRaw(postern.wirePort)) => {
        const socket = await connect();
        socket.on('error', () => undefined);
        socket.write(packet);
        const messages = new MessageStream(socket);
        await messages.untilClosed();
        return messages.received;
      };

      test("HARD-14 a valid cancel is honoured after 25 wrong keys from the same address, even against that session's process id", async () => {
        const session = await busySession();
        try {
          for (let i = 0; i < 25; i++) {
            const processId = i % 2 === 0 ? session.processId : 1000 + i;
            assert.equal(await sendCancel(cancelRequest(processId, Buffer.from([i, 1, 2, 3]))), 0);
          }
          assert.equal(await sendCancel(cancelRequest(session.processId, session.key)), 0);
          assert.equal(await session.outcome, '57014');
        } finally {
          await session.client.end();
        }
      });

      test('HARD-14 a CancelRequest is honoured after SSLRequest and TLS, and over direct TLS', async () => {
        for (const connect of [
          () => connectTls(postern.wirePort, ca),
          () =>
            new Promise<tls.TLSSocket>((resolve, reject) => {
              const socket = tls.connect(
                {
                  host: '127.0.0.1',
                  port: postern.wirePort,
                  ca,
                  servername: 'localhost',
                  ALPNProtocols: ['postgresql'],
                },
                () => resolve(socket),
              );
              socket.once('error', reject);
            }),
        ]) {
          const session = await busySession();
          try {
            const packet = cancelRequest(session.processId, session.key);
            assert.equal(await sendCancel(packet, connect as () => Promise<net.Socket>), 0);
            assert.equal(await session.outcome, '57014');
          } finally {
            await session.client.end();
          }
        }
      });
    });

    test('HARD-15 control characters of a user name are escaped in the log', async () => {
      const user = 'evil\x1b[31mred\nFORGED login succeeded for "admin"';
      const socket = await connectRaw(postern.wirePort);
      const { messages } = await scramLogin(socket, { user, database: 'admin/main' }, 'wrong');
      assert.equal(errorFields(messages.at(-1)!.body).C, '28P01');
      socket.destroy();
      const escaped = 'evil\\x1b[31mred\\nFORGED login succeeded';
      while (!postern.logMessages.includes(escaped)) {
        if (postern.logMessages.includes('evil\x1b')) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(!postern.log.includes('\x1b'), 'a raw escape character reached the log');
      assert.ok(!postern.logMessages.includes('evil\x1b'), 'a raw escape sequence reached the log');
      assert.ok(!/^FORGED/m.test(postern.logMessages), 'a forged log line');
      assert.ok(postern.logMessages.includes(escaped));
    });

    test('HARD-17 a failed TLS handshake is one line below ERROR, without a stack trace', async () => {
      const from = postern.log.length;
      const socket = await connectRaw(postern.wirePort);
      socket.on('error', () => undefined);
      socket.write(SSL_REQUEST);
      await new Promise((resolve) => socket.once('data', resolve));
      socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: postern\r\n\r\n'));
      await closed(socket);
      const logged = () => postern.log.slice(from);
      while (!/TLS handshake failed|ERROR/.test(logged())) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.doesNotMatch(logged(), /ERROR|"level":"error"/);
      assert.doesNotMatch(logged(), /^\s+at /m);
      assert.match(logged(), /TLS handshake failed/);
    });
  },
);
