import type { Recording } from './corpus';
import { MUTATIONS, pickMutation, type Frame } from './mutations';
import { Prng } from './prng';

/**
 * `pre-auth`: the mutated bytes are the whole connection, startup and SASL
 * messages included (their recorded nonces make the login fail at best).
 * `relay`: a real SCRAM login first, then the mutated session messages.
 * `login-final`: a real startup and SCRAM client-first, then the client-final
 * computed live (so that the proof is checked) with session messages
 * pipelined behind it, mutated together at replay time.
 */
export type FuzzPhase = 'pre-auth' | 'relay' | 'login-final';

/**
 * After the last write: `end` half-closes (the gateway must close within the
 * budget), `keep-open` waits (pre-auth only: the auth timeout must close it),
 * `destroy` drops the connection at once (only the process check applies).
 */
export type Ending = 'end' | 'keep-open' | 'destroy';

/** What replays a case: all a regression test needs to store. */
export interface ReplayableCase {
  readonly phase: FuzzPhase;
  /** Startup parameters of the real login before a relay case. */
  readonly loginParams: Readonly<Record<string, string>>;
  /** Written one after the other, each a separate write. */
  readonly writes: readonly Buffer[];
  readonly ending: Ending;
  /** An SSL/GSS request went out: answers are not all framed messages, do not parse them. */
  readonly rawAnswers: boolean;
  /** After the writes, one message longer than PostgreSQL allows there, body streamed. */
  readonly flood?: Flood;
  /** Over TLS (SSLRequest first) instead of plaintext. */
  readonly tls?: boolean;
  /** Relay cases: a CancelRequest for this session, on its own connection, after a write. */
  readonly cancel?: CancelStep;
  /** login-final cases: what to mutate once the client-final is known. */
  readonly finalMutation?: FinalMutation;
}

export interface FinalMutation {
  /** Seeds the mutations and write splits applied at replay time. */
  readonly seed: number;
  /** Session messages sent in the same stream as the client-final. */
  readonly pipelined: readonly Buffer[];
  /** Messages other recordings' frames may be spliced from. */
  readonly pool: readonly Frame[];
}

/**
 * The key of a CancelRequest: as BackendKeyData gave it, one byte changed,
 * or a length PostgreSQL refuses (3.0 keys are 4 bytes, 3.2 keys at most 256).
 */
export type CancelKey = 'exact' | 'changed' | 'short' | 'long';

export interface CancelStep {
  readonly afterWrite: number;
  readonly key: CancelKey;
}

/**
 * A message over the length PostgreSQL accepts at that point (65535-byte
 * auth messages before login, 10000 bytes for Sync, Execute & co. after):
 * the gateway must refuse it from its header, not buffer the body first.
 */
export interface Flood {
  readonly type: number;
  readonly bodyBytes: number;
}

const SMALL_RELAY_TYPES = 'CDEHSXcf';
const FLOOD_MIN_BYTES = 24 * 1024 * 1024;

export interface FuzzCase extends ReplayableCase {
  readonly seed: number;
  readonly index: number;
  readonly client: string;
  /** The mutations applied, in order. */
  readonly steps: readonly string[];
}

/** Key/value parameters of a StartupMessage. */
export function startupParams(packet: Buffer): Record<string, string> {
  const params: Record<string, string> = {};
  const fields = packet.subarray(8).toString('utf8').split('\0');
  for (let i = 0; i + 1 < fields.length && fields[i] !== ''; i += 2) {
    params[fields[i]!] = fields[i + 1]!;
  }
  return params;
}

function framesOf(recording: Recording): Frame[] {
  return recording.messages.map((m) => ({ typed: m.phase !== 'startup', bytes: m.bytes }));
}

/** Typed messages of every recording, for splicing. */
export function splicePool(corpus: readonly Recording[]): Frame[] {
  return corpus.flatMap((recording) => framesOf(recording).filter((frame) => frame.typed));
}

/** Case `index` of the run seeded with `seed`: the same inputs give the same bytes. */
export function generateCase(
  corpus: readonly Recording[],
  pool: readonly Frame[],
  seed: number,
  index: number,
): FuzzCase {
  const rng = Prng.forCase(seed, index);
  const recording = rng.pick(corpus);
  const phase: FuzzPhase = rng.chance(0.5) ? 'pre-auth' : 'relay';
  const all = framesOf(recording);
  const login = recording.messages.filter((m) => m.phase !== 'relay').length;
  const loginParams = startupParams(all[0]!.bytes);
  if (rng.chance(0.03)) {
    // Unmutated up to the flood, so that the oversized message is what the gateway judges.
    const type =
      phase === 'pre-auth'
        ? 0x70 /* SASLResponse */
        : SMALL_RELAY_TYPES.charCodeAt(rng.int(SMALL_RELAY_TYPES.length));
    const bodyBytes = FLOOD_MIN_BYTES + rng.int(FLOOD_MIN_BYTES);
    return {
      seed,
      index,
      client: recording.client,
      phase,
      loginParams,
      writes: phase === 'pre-auth' ? [all[0]!.bytes] : [],
      ending: 'end',
      rawAnswers: false,
      flood: { type, bodyBytes },
      steps: [`flood: ${bodyBytes}-byte message 0x${type.toString(16)}`],
    };
  }
  let frames: Frame[];
  if (phase === 'pre-auth') {
    // Sometimes with session messages pipelined behind the login.
    frames = all.slice(0, login + (rng.chance(0.3) ? 1 + rng.int(3) : 0));
  } else {
    const session = all.slice(login);
    const start = rng.chance(0.5) ? rng.int(session.length) : 0;
    frames = session.slice(start, start + 1 + rng.int(session.length));
  }
  const steps = mutate(frames, rng, pool);
  let stream = Buffer.concat(frames.map((frame) => frame.bytes));
  if (rng.chance(0.15)) {
    const keep = rng.int(stream.length + 1);
    steps.push(`stream cut at ${keep} of ${stream.length} bytes`);
    stream = stream.subarray(0, keep);
  }
  const ending: Ending =
    phase === 'pre-auth'
      ? rng.pick(['end', 'end', 'end', 'end', 'keep-open', 'destroy', 'destroy'] as const)
      : rng.pick(['end', 'end', 'end', 'destroy'] as const);
  const writes = splitWrites(stream, rng);
  const tls = rng.chance(0.25);
  if (tls) steps.push('over TLS');
  let cancel: CancelStep | undefined;
  if (phase === 'relay' && rng.chance(0.15)) {
    cancel = {
      afterWrite: rng.int(writes.length + 1) - 1,
      key: rng.pick(['exact', 'exact', 'changed', 'short', 'long'] as const),
    };
    steps.push(`CancelRequest (${cancel.key} key) after write ${cancel.afterWrite}`);
  }
  if (phase === 'pre-auth' && rng.chance(0.3)) {
    const pipelined = all.slice(login, login + rng.int(4)).map((frame) => frame.bytes);
    const finalMutation = { seed: rng.int(0x7fffffff), pipelined, pool };
    return {
      seed,
      index,
      client: recording.client,
      phase: 'login-final',
      loginParams,
      writes: [],
      // The login may succeed: a session kept open is then legitimately idle.
      ending: ending === 'keep-open' ? 'end' : ending,
      rawAnswers: false,
      tls,
      finalMutation,
      steps: [
        `live login, then ${pipelined.length} pipelined messages mutated with seed ${finalMutation.seed}`,
      ],
    };
  }
  return {
    seed,
    index,
    client: recording.client,
    phase,
    loginParams,
    writes,
    ending,
    rawAnswers: frames.some((frame) => frame.encryptionRequest),
    tls,
    ...(cancel ? { cancel } : {}),
    steps,
  };
}

/** Applies 1-3 weighted mutations to `frames` in place; returns what each did. */
export function mutate(frames: Frame[], rng: Prng, pool: readonly Frame[]): string[] {
  const steps: string[] = [];
  const count = 1 + rng.int(3);
  for (let n = 0; n < count; n++) {
    const name = pickMutation(rng);
    steps.push(`${name}: ${MUTATIONS[name]!(frames, rng, pool)}`);
  }
  return steps;
}

/** Splits a stream into 1-8 writes at random offsets (TCP segment boundaries anywhere). */
export function splitWrites(stream: Buffer, rng: Prng): Buffer[] {
  const cuts = new Set<number>();
  const pieces = 1 + rng.int(8);
  for (let n = 1; n < pieces && stream.length > 1; n++) cuts.add(1 + rng.int(stream.length - 1));
  const offsets = [0, ...[...cuts].sort((a, b) => a - b), stream.length];
  const writes: Buffer[] = [];
  for (let n = 0; n + 1 < offsets.length; n++) {
    if (offsets[n + 1]! > offsets[n]!) writes.push(stream.subarray(offsets[n], offsets[n + 1]));
  }
  return writes;
}

/** The case as a regression-test literal: hex writes and what to expect. */
export function describeCase(fuzzCase: FuzzCase): string {
  return JSON.stringify(
    {
      seed: fuzzCase.seed,
      index: fuzzCase.index,
      client: fuzzCase.client,
      phase: fuzzCase.phase,
      ending: fuzzCase.ending,
      rawAnswers: fuzzCase.rawAnswers,
      flood: fuzzCase.flood,
      tls: fuzzCase.tls,
      cancel: fuzzCase.cancel,
      finalMutationSeed: fuzzCase.finalMutation?.seed,
      steps: fuzzCase.steps,
      loginParams: fuzzCase.loginParams,
      writes: fuzzCase.writes.map((write) => write.toString('hex')),
    },
    null,
    1,
  );
}
