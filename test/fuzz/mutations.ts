import type { Prng } from './prng';

/**
 * One frame of a case: `typed` frames are `byte type, int32 length, body`;
 * untyped ones (startup, SSLRequest, CancelRequest) are `int32 length, body`.
 */
export interface Frame {
  readonly typed: boolean;
  bytes: Buffer;
  /** An SSL/GSS request: its one-byte answer is not a framed message. */
  readonly encryptionRequest?: boolean;
}

/** Changes `frames` in place and says what it did (for the failure report). */
export type Mutation = (frames: Frame[], rng: Prng, pool: readonly Frame[]) => string;

const FRONTEND_TYPES = 'QPBEDSXHCFpdcf';

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
}

function untyped(code: number, rest: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([int32(8 + rest.length), int32(code), rest]);
}

function startup(version: number, params: Record<string, string>): Buffer {
  const body = Buffer.concat([
    ...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)),
    Buffer.from([0]),
  ]);
  return untyped(version, body);
}

/** Pre-auth packets real clients send in other situations (or never). */
export const SPECIAL_FRAMES: ReadonlyArray<{ name: string; frame: () => Frame }> = [
  { name: 'SSLRequest', frame: () => enc(untyped(80877103)) },
  { name: 'GSSENCRequest', frame: () => enc(untyped(80877104)) },
  {
    name: 'CancelRequest',
    frame: () => ({
      typed: false,
      bytes: untyped(80877102, Buffer.from('0000303900000001', 'hex')),
    }),
  },
  {
    name: 'startup 3.2 with _pq_ options',
    frame: () => ({
      typed: false,
      bytes: startup(0x00030002, { user: 'admin', database: 'admin/main', '_pq_.fuzz': 'on' }),
    }),
  },
  {
    name: 'startup 2.0',
    frame: () => ({ typed: false, bytes: startup(0x00020000, { user: 'admin' }) }),
  },
  { name: 'startup without user', frame: () => ({ typed: false, bytes: startup(0x00030000, {}) }) },
  {
    name: 'replication startup',
    frame: () => ({
      typed: false,
      bytes: startup(0x00030000, {
        user: 'admin',
        database: 'admin/main',
        replication: 'database',
      }),
    }),
  },
  {
    name: 'startup with an unterminated parameter',
    frame: () => ({ typed: false, bytes: untyped(0x00030000, Buffer.from('user\0admin')) }),
  },
];

function enc(bytes: Buffer): Frame {
  return { typed: false, bytes, encryptionRequest: true };
}

const lengthOffset = (frame: Frame) => (frame.typed ? 1 : 0);

function pickIndex(frames: readonly Frame[], rng: Prng): number {
  return rng.int(frames.length);
}

const LENGTHS = [0, 3, 4, 5, 7, 8, 0x7fffffff, -1, -2147483648, 0x40000000, 0x3fffffff, 10001];

/** The mutations, by name; each picks its own target frame. */
export const MUTATIONS: Readonly<Record<string, Mutation>> = {
  length(frames, rng) {
    const i = pickIndex(frames, rng);
    const frame = frames[i]!;
    const at = lengthOffset(frame);
    if (frame.bytes.length < at + 4) return `length: frame ${i} too short`;
    const current = frame.bytes.readInt32BE(at);
    const value = rng.pick([...LENGTHS, current - 1, current + 1, rng.int(0x7fffffff)]);
    frame.bytes = Buffer.from(frame.bytes);
    frame.bytes.writeInt32BE(value | 0, at);
    return `length of frame ${i} = ${value | 0}`;
  },
  type(frames, rng) {
    const i = pickIndex(frames, rng);
    const frame = frames[i]!;
    frame.bytes = Buffer.from(frame.bytes);
    if (frame.typed) {
      const type = rng.chance(0.7)
        ? FRONTEND_TYPES.charCodeAt(rng.int(FRONTEND_TYPES.length))
        : rng.int(256);
      frame.bytes[0] = type;
      return `type of frame ${i} = 0x${type.toString(16)}`;
    }
    if (frame.bytes.length < 8) return `type: frame ${i} too short`;
    const version = rng.pick([
      0x00030000,
      0x00030002,
      0x00020000,
      0x00040000,
      80877102,
      rng.int(0x7fffffff),
    ]);
    frame.bytes.writeInt32BE(version, 4);
    return `version of frame ${i} = 0x${version.toString(16)}`;
  },
  truncate(frames, rng) {
    const i = pickIndex(frames, rng);
    const frame = frames[i]!;
    const keep = rng.int(frame.bytes.length);
    frame.bytes = frame.bytes.subarray(0, keep);
    return `frame ${i} truncated to ${keep} bytes`;
  },
  duplicate(frames, rng) {
    const i = pickIndex(frames, rng);
    const copies = rng.chance(0.8) ? 1 : 1 + rng.int(50);
    const frame = frames[i]!;
    frames.splice(i + 1, 0, ...Array.from({ length: copies }, () => ({ ...frame })));
    return `frame ${i} duplicated ${copies}x`;
  },
  splice(frames, rng, pool) {
    const i = rng.int(frames.length + 1);
    const from = rng.pick(pool);
    frames.splice(i, 0, { ...from });
    return `frame from another recording (type 0x${(from.bytes[0] ?? 0).toString(16)}) inserted at ${i}`;
  },
  flip(frames, rng) {
    const i = pickIndex(frames, rng);
    const frame = frames[i]!;
    if (frame.bytes.length === 0) return `flip: frame ${i} empty`;
    frame.bytes = Buffer.from(frame.bytes);
    const count = 1 + rng.int(4);
    for (let n = 0; n < count; n++) {
      const at = rng.int(frame.bytes.length);
      frame.bytes[at] = rng.chance(0.5) ? frame.bytes[at]! ^ (1 << rng.int(8)) : rng.int(256);
    }
    return `${count} bytes of frame ${i} flipped`;
  },
  unterminate(frames, rng) {
    const i = pickIndex(frames, rng);
    const frame = frames[i]!;
    frame.bytes = Buffer.from(frame.bytes);
    const from = frame.typed ? 5 : 8;
    for (let at = from; at < frame.bytes.length; at++)
      if (frame.bytes[at] === 0) frame.bytes[at] = 0x41;
    return `NULs in the body of frame ${i} replaced`;
  },
  random(frames, rng) {
    const i = rng.int(frames.length + 1);
    const type = rng.chance(0.7)
      ? FRONTEND_TYPES.charCodeAt(rng.int(FRONTEND_TYPES.length))
      : rng.int(256);
    const body = rng.bytes(rng.int(64));
    const bytes = Buffer.concat([Buffer.from([type]), int32(body.length + 4), body]);
    frames.splice(i, 0, { typed: true, bytes });
    return `random message 0x${type.toString(16)} (${body.length} bytes) inserted at ${i}`;
  },
  big(frames, rng) {
    const i = rng.int(frames.length + 1);
    const type = rng.chance(0.5)
      ? 0x70 /* p */
      : FRONTEND_TYPES.charCodeAt(rng.int(FRONTEND_TYPES.length));
    const size = 1024 * (1 + rng.int(1024));
    const body = Buffer.alloc(size, 0x61);
    const bytes = Buffer.concat([Buffer.from([type]), int32(body.length + 4), body]);
    frames.splice(i, 0, { typed: true, bytes });
    return `${size}-byte message 0x${type.toString(16)} inserted at ${i}`;
  },
  special(frames, rng) {
    const i = rng.chance(0.6) ? 0 : rng.int(frames.length + 1);
    const special = rng.pick(SPECIAL_FRAMES);
    frames.splice(i, 0, special.frame());
    return `${special.name} inserted at ${i}`;
  },
  remove(frames, rng) {
    if (frames.length < 2) return 'remove: too few frames';
    const i = pickIndex(frames, rng);
    frames.splice(i, 1);
    return `frame ${i} removed`;
  },
  swap(frames, rng) {
    if (frames.length < 2) return 'swap: too few frames';
    const i = rng.int(frames.length - 1);
    [frames[i], frames[i + 1]] = [frames[i + 1]!, frames[i]!];
    return `frames ${i} and ${i + 1} swapped`;
  },
};

/** Mutations weighted: cheap, structure-breaking ones more often than 1 MiB bodies. */
export const MUTATION_WEIGHTS: ReadonlyArray<[string, number]> = [
  ['length', 14],
  ['type', 10],
  ['truncate', 8],
  ['duplicate', 8],
  ['splice', 10],
  ['flip', 16],
  ['unterminate', 5],
  ['random', 10],
  ['big', 2],
  ['special', 6],
  ['remove', 6],
  ['swap', 5],
];

export function pickMutation(rng: Prng): string {
  const total = MUTATION_WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = rng.int(total);
  for (const [name, weight] of MUTATION_WEIGHTS) {
    if (roll < weight) return name;
    roll -= weight;
  }
  return MUTATION_WEIGHTS[0]![0];
}
