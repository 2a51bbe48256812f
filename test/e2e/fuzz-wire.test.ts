import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateCase, splicePool } from '../fuzz/cases';
import {
  formatFinding,
  FUZZ_GATEWAY_ENV,
  HANG_BUDGET_MS,
  runCampaign,
  type CampaignResult,
} from '../fuzz/campaign';
import { loadCorpus, type Recording } from '../fuzz/corpus';
import { replayCase } from '../fuzz/replay';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import {
  connectRaw,
  errorFields,
  int32,
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

    test('FUZZ-01: a SASL message over 65535 bytes before login is refused from its header (08P01), not buffered', async () => {
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

    test('FUZZ-01 as the fuzzer found it: seed 2, case 79 (a 25 MiB SASLResponse after a real startup)', async () => {
      const found = generateCase(corpus, splicePool(corpus), 2, 79);
      assert.ok(found.flood, 'case generation changed: seed 2 case 79 is no longer the flood');
      const outcome = await replayCase(await target(), found);
      assert.equal(outcome.verdict, 'closed', outcome.detail);
      assert.deepEqual(outcome.sqlstates, ['08P01']);
    });
  });
});
