import { Buffer } from 'node:buffer';

/*
 * An independent builder for expected protocol bytes. It deliberately shares no code with
 * the production writers, so a test cannot pass because both sides make the same mistake.
 */
export class Bytes {
  private readonly parts: Buffer[] = [];

  byte(value: number | string): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(typeof value === 'string' ? value.charCodeAt(0) : value);
    this.parts.push(b);
    return this;
  }

  int16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    this.parts.push(b);
    return this;
  }

  int32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.parts.push(b);
    return this;
  }

  uint32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    this.parts.push(b);
    return this;
  }

  cstring(value: string): this {
    this.parts.push(Buffer.from(value, 'utf8'), Buffer.alloc(1));
    return this;
  }

  raw(value: Buffer | string | number[]): this {
    this.parts.push(
      typeof value === 'string'
        ? Buffer.from(value, 'utf8')
        : Buffer.isBuffer(value)
          ? value
          : Buffer.from(value),
    );
    return this;
  }

  /** Just the bytes added so far, unframed. */
  body(): Buffer {
    return Buffer.concat(this.parts);
  }

  /** `byte type, int32 len (counts itself), body`. */
  typed(type: string): Buffer {
    const body = this.body();
    const header = Buffer.alloc(5);
    header.write(type, 0, 'latin1');
    header.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([header, body]);
  }

  /** `int32 len (counts itself), body`: the StartupMessage / SSLRequest framing. */
  untyped(): Buffer {
    const body = this.body();
    const header = Buffer.alloc(4);
    header.writeInt32BE(body.length + 4, 0);
    return Buffer.concat([header, body]);
  }
}

export const bytes = (): Bytes => new Bytes();

/** A StartupMessage body (no length word) for protocol major.minor with the given params. */
export function startupBody(major: number, minor: number, params: [string, string][]): Buffer {
  const b = bytes().int16(major).int16(minor);
  for (const [name, value] of params) b.cstring(name).cstring(value);
  return b.byte(0).body();
}

/** Deterministic PRNG (mulberry32) so fuzz failures are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
