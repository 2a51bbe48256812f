import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  FrameReader,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
  parsePasswordMessage,
  parseReadyForQuery,
  parseSaslInitialResponse,
  parseSaslResponse,
  parseStartupPacket,
  PgError,
} from '#wire';
import { bytes, prng } from './testing/bytes.js';

const ITERATIONS = 20_000;

/** Runs fn; a PgError is an acceptable outcome, anything else thrown fails the test. */
function onlyPgError(what: string, input: Buffer, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof PgError) return;
    assert.fail(`${what} threw ${String(err)} for ${input.toString('hex')}`);
  }
}

/** Random bytes, biased towards inputs that get past the first checks. */
function randomInput(rand: () => number): Buffer {
  const len = Math.floor(rand() * (rand() < 0.9 ? 48 : 600));
  const buf = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    const r = rand();
    buf[i] =
      r < 0.25 ? 0 : r < 0.35 ? 0xff : r < 0.6 ? 0x61 + Math.floor(rand() * 26) : rand() * 256;
  }
  const shape = rand();
  if (shape < 0.2) {
    // A plausible length word followed by the random bytes.
    return Buffer.concat([
      bytes()
        .int32(len + 4)
        .body(),
      buf,
    ]);
  }
  if (shape < 0.35) {
    const codes = [80877102, 80877103, 80877104, 0x30000, 0x30002, 0x20000];
    return Buffer.concat([
      bytes()
        .int32(codes[Math.floor(rand() * codes.length)])
        .body(),
      buf,
    ]);
  }
  if (shape < 0.5) {
    return Buffer.concat([
      Buffer.from('p'),
      bytes()
        .int32(len + 4)
        .body(),
      buf,
    ]);
  }
  return buf;
}

test(`${ITERATIONS} random inputs make the codec throw nothing but PgError`, () => {
  const rand = prng(0x5eed);
  const parsers: [string, (b: Buffer) => unknown][] = [
    ['parseStartupPacket', parseStartupPacket],
    ['parseSaslInitialResponse', parseSaslInitialResponse],
    ['parseSaslResponse', parseSaslResponse],
    ['parsePasswordMessage', parsePasswordMessage],
    ['parseErrorFields', parseErrorFields],
    ['parseAuthentication', parseAuthentication],
    ['parseParameterStatus', parseParameterStatus],
    ['parseBackendKeyData', parseBackendKeyData],
    ['parseReadyForQuery', parseReadyForQuery],
  ];

  for (let i = 0; i < ITERATIONS; i++) {
    const input = randomInput(rand);

    for (const [name, parse] of parsers) onlyPgError(name, input, () => parse(input));
    onlyPgError('parseStartupPacket(tail)', input, () => parseStartupPacket(input.subarray(4)));

    // Push in random pieces and read with both framings, feeding bodies to the parsers.
    const reader = new FrameReader({ maxMessageLength: 4 + Math.floor(rand() * 700) });
    const startupFirst = rand() < 0.5;
    onlyPgError('FrameReader', input, () => {
      for (let at = 0; at < input.length;) {
        const size = 1 + Math.floor(rand() * 16);
        reader.push(input.subarray(at, at + size));
        at += size;
        if (startupFirst) {
          const body = reader.readStartupFrame();
          if (body) onlyPgError('parseStartupPacket', body, () => parseStartupPacket(body));
        } else {
          for (let msg = reader.readMessage(); msg; msg = reader.readMessage()) {
            const body = msg.body;
            onlyPgError('parseSaslInitialResponse', body, () => parseSaslInitialResponse(body));
            onlyPgError('parseErrorFields', body, () => parseErrorFields(body));
          }
        }
      }
    });
    assert.ok(reader.bufferedLength >= 0);
    assert.equal(reader.takeBuffered().length <= input.length, true);
  }
});
