import { timingSafeEqual } from 'node:crypto';

/**
 * The one comparison for secrets in Postern: StoredKey, server signatures, nonces, token
 * hashes, cancel keys (docs/security.md SCRAM-08). Nothing else in the project may compare a
 * secret with `===`, `Buffer.equals` or `Buffer.compare`; a test greps libs/auth for that.
 *
 * `crypto.timingSafeEqual` throws a RangeError when the lengths differ, and a caller that
 * checks the length first and returns early leaks nothing about the content, but forgets
 * the check easily. Here a length mismatch still runs one full comparison (of `expected`
 * against itself, so the time depends only on the expected length, which every caller in
 * Postern treats as public: digests and keys have fixed sizes) and returns false.
 *
 * Pass the value that came from the peer as `received` and our own secret as `expected`.
 */
export function safeEqual(received: Uint8Array, expected: Uint8Array): boolean {
  if (received.byteLength !== expected.byteLength) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(received, expected);
}
