import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startScramClient } from '#auth';
import { generateCase, splicePool, type ReplayableCase } from '../fuzz/cases';
import {
  formatFinding,
  FUZZ_GATEWAY_ENV,
  FUZZ_POOL_SIZE,
  HANG_BUDGET_MS,
  runCampaign,
  type CampaignResult,
} from '../fuzz/campaign';
import { loadCorpus, type Recording } from '../fuzz/corpus';
import { heldConnections } from '../fuzz/gateway-sockets';
import { healthCheck, replayCase } from '../fuzz/replay';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import {
  connectRaw,
  errorFields,
  int32,
  message,
  MessageStream,
  startupMessage,
} from '../support/raw-client';

/** The fixed slice every run replays; POSTERN_FUZZ_SEED adds another (printed on failure). */
const FIXED_SEED = 20261206;
const FIXED_CASES = 600;
const EXTRA_CASES = 300;

/**
 * The wire-protocol fuzzer's short slice (the long mode is
 * bench/fuzz-wire.ts): mutated replays of the recorded psql, psycopg2,
 * pgJDBC and node-postgres sessions (test/fuzz/corpus) against the real
 * gateway, before and after a real SCRAM login. After every batch the
 * process must be alive and a fresh login must answer `select 1`; every
 * connection must end (or be answered) within the auth timeout plus a
 * margin; ErrorResponses must carry a SQLSTATE. Then the regressions the
 * fuzzer found, as raw bytes.
 */
describe('wire protocol fuzzer', () => {
  let postern: PosternProcess;
  let corpus: Recording[];

  before(async () => {
    [postern, corpus] = await Promise.all([
      PosternProcess.start({ env: FUZZ_GATEWAY_ENV }),
      loadCorpus(),
    ]);
  });
  after(() => postern.dispose());

  async function fuzz(seed: number, cases: number): Promise<CampaignResult> {
    return runCampaign({
      corpus,
      seed,
      cases,
      concurrency: 4,
      batchSize: 50,
      password: ADMIN_PASSWORD,
      gateway: () => ({
        port: postern.wirePort,
        pid: postern.pid,
        caFile: postern.caFile,
        running: postern.running,
        log: postern.log,
      }),
      restartAfterCrash: async () => false,
    });
  }

  function assertNoFindings(result: CampaignResult): void {
    assert.equal(
      result.findings.length,
      0,
      `fuzzer findings:\n${result.findings.map(formatFinding).join('\n')}`,
    );
    assert.ok(postern.running, 'the gateway exited');
  }

  test(
    `${FIXED_CASES} mutated sessions with seed ${FIXED_SEED}`,
    { timeout: 180_000 },
    async () => {
      const result = await fuzz(FIXED_SEED, FIXED_CASES);
      assertNoFindings(result);
      assert.equal(result.casesRun, FIXED_CASES);
      // Both phases were reached: the relay cases logged in, the pre-auth ones were refused.
      assert.ok((result.verdicts.closed ?? 0) > FIXED_CASES / 2, JSON.stringify(result.verdicts));
    },
  );

  test('a case replays from its seed and number alone', () => {
    const pool = splicePool(corpus);
    const bytes = (seed: number, index: number) =>
      Buffer.concat(generateCase(corpus, pool, seed, index).writes).toString('hex');
    assert.equal(bytes(FIXED_SEED, 17), bytes(FIXED_SEED, 17));
    assert.notEqual(bytes(FIXED_SEED, 17), bytes(FIXED_SEED, 18));
    assert.notEqual(bytes(FIXED_SEED, 17), bytes(FIXED_SEED + 1, 17));
  });

  test('the corpus holds a SCRAM login and a session from each recorded client', () => {
    assert.deepEqual(corpus.map((r) => r.client).sort(), [
      'node-postgres',
      'pgjdbc',
      'psql',
      'psycopg2',
    ]);
    for (const recording of corpus) {
      const phases = recording.messages.map((m) => m.phase);
      assert.deepEqual(phases.slice(0, 3), ['startup', 'auth', 'auth'], recording.client);
      assert.ok(phases.filter((p) => p === 'relay').length >= 5, recording.client);
      assert.equal(
        recording.messages.at(-1)?.bytes.toString('latin1', 0, 1),
        'X',
        recording.client,
      );
    }
  });

  const envSeed = process.env.POSTERN_FUZZ_SEED;
  test(
    `${EXTRA_CASES} mutated sessions with POSTERN_FUZZ_SEED=${envSeed ?? '(unset)'}`,
    { timeout: 180_000, skip: envSeed === undefined && 'POSTERN_FUZZ_SEED is not set' },
    async () => {
      assertNoFindings(await fuzz(Number(envSeed), EXTRA_CASES));
    },
  );

  describe('regressions found by the fuzzer', () => {
    const target = async () => ({
      port: postern.wirePort,
      password: ADMIN_PASSWORD,
      hangBudgetMs: HANG_BUDGET_MS,
      ca: await postern.ca(),
    });

    test('FUZZ-01: a SASL message over the pre-authentication cap (8 KiB) is refused from its header (08P01), not buffered', async () => {
      const socket = await connectRaw(postern.wirePort);
      try {
        const stream = new MessageStream(socket);
        socket.write(startupMessage({ user: 'admin', database: 'admin/main' }));
        const sasl = await stream.next();
        assert.equal(sasl?.type, 'R');
        assert.equal(sasl.body.readInt32BE(0), 10, 'AuthenticationSASL');
        // The header of a 25 MiB SASLInitialResponse, and not one byte of its body.
        socket.write(Buffer.concat([Buffer.from('p'), int32(26_309_826 + 4)]));
        const refusal = await stream.next();
        assert.equal(
          refusal?.type,
          'E',
          'an ErrorResponse, not a silent close at the auth timeout',
        );
        assert.equal(errorFields(refusal.body).C, '08P01');
        assert.equal(errorFields(refusal.body).M, 'invalid message length');
        await stream.untilClosed();
      } finally {
        socket.destroy();
      }
    });

    test('FUZZ-02: a client gone after an extended-protocol error without Sync does not keep its upstream connection', async () => {
      // Seed 20261206, case 1086: node-postgres' tail with one byte flipped, so that
      // Describe fails (PostgreSQL then skips everything up to a Sync), and no Sync
      // or Terminate: CopyData, CopyDone, Parse, Bind, Describe(0x10), Execute, EOF.
      const found: ReplayableCase = {
        phase: 'relay',
        loginParams: { user: 'admin', database: 'admin/main', client_encoding: 'UTF8' },
        writes: [
          Buffer.from(
            '6400000012320974776f0a330974687265650a630000000450000000240053454c4543542024313a3a' +
              '696e74202b203120415320616e7377657200000042000000160000000100000001000000023431' +
              '000100004400000006100045000000090000000000',
            'hex',
          ),
        ],
        ending: 'end',
        rawAnswers: false,
      };
      // One more session than the pool holds: each must find an upstream connection.
      for (let n = 1; n <= FUZZ_POOL_SIZE + 1; n++) {
        const outcome = await replayCase(await target(), found);
        assert.equal(outcome.verdict, 'closed', `session ${n}: ${outcome.detail}`);
      }
      const health = await healthCheck(postern.wirePort, ADMIN_PASSWORD);
      assert.equal(health.problem, null);
    });

    test('FUZZ-03: the gateway lets go of a client whose session PostgreSQL ended in the middle of a large message', async () => {
      // Seeds 20261206, cases 45 and 638: after a real login, PasswordMessages of
      // 534,528 bytes, 21 in a row (PostgreSQL ends the session with FATAL 08P01 at
      // the first header, while the gateway is still streaming the bodies, so it
      // has paused the client for backpressure), then Terminate.
      const passwordMessage = Buffer.concat([
        Buffer.from('p'),
        int32(534_528 + 4),
        Buffer.alloc(534_528, 0x61),
      ]);
      const found: ReplayableCase = {
        phase: 'relay',
        loginParams: { user: 'admin', database: 'admin/main' },
        writes: [
          Buffer.concat([
            ...Array.from({ length: 22 }, () => passwordMessage),
            Buffer.from('X\0\0\0\x04', 'latin1'),
          ]),
        ],
        ending: 'end',
        rawAnswers: false,
      };
      const outcome = await replayCase(await target(), found);
      assert.equal(outcome.verdict, 'closed', outcome.detail);
      // The client has closed its side too: the gateway must release the descriptor.
      const deadline = Date.now() + HANG_BUDGET_MS;
      let held = await heldConnections(postern.pid, postern.wirePort);
      while (held.has(outcome.clientPort!) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        held = await heldConnections(postern.pid, postern.wirePort);
      }
      assert.ok(!held.has(outcome.clientPort!), 'the gateway still holds the closed connection');
    });

    test('FUZZ-04: a client that hangs up right after its SCRAM client-final does not keep an upstream connection', async () => {
      // Seed 20261206, case 55 (login-final): the client-final, then EOF before the
      // gateway's answer, here without the truncated Query the fuzzer sent after it.
      const hangUpAfterFinal = async () => {
        const socket = await connectRaw(postern.wirePort);
        try {
          const stream = new MessageStream(socket);
          socket.write(startupMessage({ user: 'admin', database: 'admin/main' }));
          assert.equal((await stream.next())?.type, 'R');
          const scram = startScramClient({ password: ADMIN_PASSWORD, channelBinding: null });
          const first = Buffer.from(scram.clientFirst);
          socket.write(
            message(
              'p',
              Buffer.concat([Buffer.from(`${scram.mechanism}\0`), int32(first.length), first]),
            ),
          );
          const serverFirst = await stream.next();
          assert.equal(serverFirst?.type, 'R');
          const final = scram.receiveServerFirst(serverFirst.body.subarray(4).toString());
          socket.end(message('p', final.clientFinal));
          await stream.untilClosed();
        } finally {
          socket.destroy();
        }
      };
      // One more than the pool holds: each login must find an upstream connection.
      for (let n = 1; n <= FUZZ_POOL_SIZE + 1; n++) await hangUpAfterFinal();
      const health = await healthCheck(postern.wirePort, ADMIN_PASSWORD);
      assert.equal(health.problem, null);
    });

    test('FUZZ-01 as the fuzzer found it: seed 2, case 79 (a 25 MiB SASLResponse after a real startup)', async () => {
      const found = generateCase(corpus, splicePool(corpus), 2, 79);
      assert.ok(found.flood, 'case generation changed: seed 2 case 79 is no longer the flood');
      const outcome = await replayCase(await target(), found);
      assert.equal(outcome.verdict, 'closed', outcome.detail);
      assert.deepEqual(outcome.sqlstates, ['08P01']);
    });
  });
});
