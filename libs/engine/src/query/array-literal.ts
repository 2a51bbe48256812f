/**
 * PostgreSQL's array text format (`array_out`), as documented in "Arrays /
 * Array Value Input and Output":
 *
 *   array    := [ dims '=' ] '{' [ element { delim element } ] '}'
 *   dims     := ( '[' lower ':' upper ']' )+
 *   element  := array | quoted | unquoted
 *   quoted   := '"' { any char but '"' and '\' | '\' any char } '"'
 *   unquoted := chars up to delim or '}', '\' escaping one char;
 *               NULL (any case, unescaped) is the null element
 *
 * Whitespace around elements is not part of them. Lower bounds other than
 * 1 are dropped: a JSON array always starts at index 0.
 */

/** A malformed literal: never expected from PostgreSQL's own output. */
export class ArrayLiteralError extends Error {}

/** Parses `text` and turns every non-null element into a value with `element`. */
export function parseArrayLiteral<T>(
  text: string,
  element: (text: string) => T,
  delimiter = ',',
): Array<T | null | unknown[]> {
  return new ArrayLiteralParser(text, element, delimiter).parse();
}

class ArrayLiteralParser<T> {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly element: (text: string) => T,
    private readonly delimiter: string,
  ) {}

  parse(): Array<T | null | unknown[]> {
    if (this.text.startsWith('[')) {
      const eq = this.text.indexOf('=');
      if (eq < 0) throw new ArrayLiteralError('dimensions without "="');
      this.pos = eq + 1;
    }
    const result = this.array();
    this.skipSpace();
    if (this.pos !== this.text.length) throw new ArrayLiteralError('text after the array');
    return result;
  }

  private array(): Array<T | null | unknown[]> {
    this.skipSpace();
    this.expect('{');
    const items: Array<T | null | unknown[]> = [];
    this.skipSpace();
    if (this.peek() === '}') {
      this.pos++;
      return items;
    }
    for (;;) {
      this.skipSpace();
      const next = this.peek();
      if (next === '{') items.push(this.array());
      else if (next === '"') items.push(this.element(this.quoted()));
      else items.push(this.unquoted());
      this.skipSpace();
      const separator = this.text[this.pos++];
      if (separator === '}') return items;
      if (separator !== this.delimiter) throw new ArrayLiteralError(`unexpected "${separator}"`);
    }
  }

  private quoted(): string {
    this.pos++; // the opening quote
    let out = '';
    let start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === '"') {
        out += this.text.slice(start, this.pos++);
        return out;
      }
      if (c === '\\') {
        out += this.text.slice(start, this.pos) + (this.text[this.pos + 1] ?? '');
        this.pos += 2;
        start = this.pos;
      } else {
        this.pos++;
      }
    }
    throw new ArrayLiteralError('unterminated quoted element');
  }

  private unquoted(): T | null {
    let out = '';
    let escaped = false;
    // Trailing whitespace is dropped, unless a backslash protected it.
    let keep = 0;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === this.delimiter || c === '}') break;
      if (c === '{' || c === '"') throw new ArrayLiteralError(`unexpected "${c}"`);
      if (c === '\\') {
        out += this.text[this.pos + 1] ?? '';
        this.pos += 2;
        escaped = true;
        keep = out.length;
        continue;
      }
      out += c;
      this.pos++;
      if (!isSpace(c)) keep = out.length;
    }
    out = out.slice(0, keep);
    if (out === '' && !escaped) throw new ArrayLiteralError('empty element');
    if (!escaped && out.toUpperCase() === 'NULL') return null;
    return this.element(out);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && isSpace(this.text[this.pos]!)) this.pos++;
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private expect(c: string): void {
    if (this.text[this.pos] !== c) throw new ArrayLiteralError(`expected "${c}"`);
    this.pos++;
  }
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
}
