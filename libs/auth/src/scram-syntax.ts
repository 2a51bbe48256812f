import { malformed } from './scram-error';

/*
 * Shared pieces of the RFC 5802 grammar (§7):
 *
 *   attr-val        = ALPHA "=" value
 *   value           = 1*value-char
 *   value-char      = value-safe-char / "="
 *   value-safe-char = %x01-2B / %x2D-3C / %x3E-7F / UTF8-2 / UTF8-3 / UTF8-4
 *   printable       = %x21-2B / %x2D-7E   ;; printable ASCII except ","
 *   base64          = *(4base64-char) [base64-3 / base64-2]
 *
 * Messages are handled as latin1 text: one char per byte, so any byte sequence survives
 * the round trip into the AuthMessage unchanged, and bytes >= 0x80 can never pass for
 * printable ASCII.
 */

export function bytesToText(message: Uint8Array): string {
  const text = Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString(
    'latin1',
  );
  // PostgreSQL reads the payload as a C string and refuses embedded NULs.
  if (text.includes('\0')) throw malformed('Message length does not match input length.');
  return text;
}

export function textToBytes(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

const PRINTABLE = /^[\x21-\x2B\x2D-\x7E]*$/;

/** c-nonce / s-nonce: printable ASCII without ",". May be empty, as PostgreSQL allows. */
export function isPrintable(text: string): boolean {
  return PRINTABLE.test(text);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Buffer.from(x, 'base64') skips junk silently; SCRAM wants the strict form or nothing. */
export function decodeBase64(text: string): Buffer | null {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : null;
}

/** Quotes peer bytes in an error detail without letting control characters into logs. */
export function sanitize(text: string): string {
  const shown = text.length > 64 ? `${text.slice(0, 64)}...` : text;
  return shown.replace(
    /[^\x20-\x7E]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** A cursor over `attr=value,attr=value...` that reports errors as PostgreSQL words them. */
export class AttributeReader {
  private pos = 0;

  constructor(
    readonly text: string,
    private readonly messageName: string,
  ) {}

  get position(): number {
    return this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text.charAt(this.pos);
  }

  /** Consumes one literal character. */
  expectChar(expected: string): void {
    if (this.peek() !== expected) {
      throw malformed(`Comma expected, but found character "${sanitize(this.peek())}".`);
    }
    this.pos++;
  }

  /** Reads `attr=value` for the given attr and the "," after it, if any. */
  expect(attr: string): string {
    if (this.peek() !== attr) {
      throw malformed(`Expected attribute "${attr}" but found "${sanitize(this.peek())}".`);
    }
    return this.readValue(attr);
  }

  /** Reads any `ALPHA=value`: an extension, or an attribute whose position is checked later. */
  any(): { attr: string; value: string } {
    if (this.atEnd()) throw malformed('Attribute expected, but found end of string.');
    const attr = this.peek();
    if (!/^[A-Za-z]$/.test(attr)) {
      throw malformed(`Attribute expected, but found invalid character "${sanitize(attr)}".`);
    }
    return { attr, value: this.readValue(attr) };
  }

  /** Fails unless everything has been read. */
  expectEnd(): void {
    if (!this.atEnd()) throw malformed(`Garbage found at the end of ${this.messageName}.`);
  }

  private readValue(attr: string): string {
    this.pos++;
    if (this.peek() !== '=') throw malformed(`Expected character "=" for attribute "${attr}".`);
    this.pos++;
    const comma = this.text.indexOf(',', this.pos);
    const end = comma === -1 ? this.text.length : comma;
    const value = this.text.slice(this.pos, end);
    this.pos = end;
    if (comma !== -1) {
      this.pos++;
      // The grammar has no empty attribute after a ",": "r=abc," is not a message.
      if (this.atEnd()) throw malformed('Attribute expected, but found end of string.');
    }
    return value;
  }
}
