/**
 * A tolerant lexer for PostgreSQL's SQL: enough to find where statements
 * end, what their leading keywords are, which functions they call and where
 * their literals are, without parsing. The gateway needs that on every
 * statement it relays in transaction-pooling mode, so it must be fast and
 * must never throw: unterminated quotes and comments run to the end.
 *
 * Hand-written because no library fits: full parsers (libpg_query builds,
 * pgsql-ast-parser) cost a parse tree per statement and reject statements
 * PostgreSQL accepts; here only lexical structure matters. The rules follow
 * PostgreSQL's scanner (scan.l) with standard_conforming_strings on: `'..'`
 * with `''`, `E'..'` with backslash escapes, `U&'..'`, `B'..'`, `X'..'`,
 * `"..."` identifiers, `$tag$..$tag$`, `--` and nested `/* *\/` comments,
 * `$1` parameters.
 */

export type SqlTokenKind =
  /** A keyword or unquoted identifier; `word` holds it lower-cased. */
  | 'word'
  | 'quoted-identifier'
  /** Any string constant: '..', E'..', U&'..', B'..', X'..', $$..$$. */
  | 'string'
  | 'number'
  /** `$1`, `$2`, ... */
  | 'parameter'
  | 'operator'
  /** One of ( ) [ ] , ; : . */
  | 'punctuation';

export interface SqlToken {
  readonly kind: SqlTokenKind;
  readonly start: number;
  readonly end: number;
  /** Lower-cased for words; the character for punctuation; '' otherwise. */
  readonly word: string;
}

const enum Ch {
  Tab = 9,
  Newline = 10,
  Return = 13,
  Space = 32,
  DoubleQuote = 34,
  Dollar = 36,
  Ampersand = 38,
  Quote = 39,
  Star = 42,
  Minus = 45,
  Dot = 46,
  Slash = 47,
  Zero = 48,
  Nine = 57,
  Backslash = 92,
  Underscore = 95,
}

const PUNCTUATION = new Set(['(', ')', '[', ']', ',', ';', ':', '.']);
const OPERATOR_CHARS = new Set([...'+-*/<>=~!@#%^&|`?']);

function isSpace(c: number): boolean {
  return (
    c === Ch.Space || c === Ch.Tab || c === Ch.Newline || c === Ch.Return || c === 12 || c === 11
  );
}

function isDigit(c: number): boolean {
  return c >= Ch.Zero && c <= Ch.Nine;
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === Ch.Underscore || c >= 128;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === Ch.Dollar;
}

/** Every token of `sql`, comments and white space left out. */
export function lexSql(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  const length = sql.length;
  let i = 0;
  while (i < length) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    const next = i + 1 < length ? sql.charCodeAt(i + 1) : -1;
    if (c === Ch.Minus && next === Ch.Minus) {
      i = skipLineComment(sql, i);
      continue;
    }
    if (c === Ch.Slash && next === Ch.Star) {
      i = skipBlockComment(sql, i);
      continue;
    }
    if (c === Ch.Quote) {
      i = endOfQuoted(sql, i + 1, Ch.Quote, false);
      tokens.push({ kind: 'string', start, end: i, word: '' });
      continue;
    }
    if (c === Ch.DoubleQuote) {
      i = endOfQuoted(sql, i + 1, Ch.DoubleQuote, false);
      tokens.push({ kind: 'quoted-identifier', start, end: i, word: '' });
      continue;
    }
    if (c === Ch.Dollar) {
      if (isDigit(next)) {
        i += 2;
        while (i < length && isDigit(sql.charCodeAt(i))) i++;
        tokens.push({ kind: 'parameter', start, end: i, word: '' });
        continue;
      }
      const dollarQuoted = endOfDollarQuoted(sql, i);
      if (dollarQuoted !== -1) {
        i = dollarQuoted;
        tokens.push({ kind: 'string', start, end: i, word: '' });
        continue;
      }
      i++;
      tokens.push({ kind: 'operator', start, end: i, word: '' });
      continue;
    }
    if (isIdentStart(c)) {
      const prefixed = stringPrefixEnd(sql, i);
      if (prefixed !== -1) {
        const quote = sql.charCodeAt(prefixed);
        const backslashEscapes = (c | 0x20) === 101; // E'...'
        i = endOfQuoted(sql, prefixed + 1, quote, backslashEscapes);
        const kind = quote === Ch.Quote ? 'string' : 'quoted-identifier';
        tokens.push({ kind, start, end: i, word: '' });
        continue;
      }
      i++;
      while (i < length && isIdentPart(sql.charCodeAt(i))) i++;
      tokens.push({ kind: 'word', start, end: i, word: sql.slice(start, i).toLowerCase() });
      continue;
    }
    if (isDigit(c) || (c === Ch.Dot && isDigit(next))) {
      i = endOfNumber(sql, i);
      tokens.push({ kind: 'number', start, end: i, word: '' });
      continue;
    }
    const ch = sql[i];
    if (PUNCTUATION.has(ch)) {
      i++;
      tokens.push({ kind: 'punctuation', start, end: i, word: ch });
      continue;
    }
    if (OPERATOR_CHARS.has(ch)) {
      i++;
      while (i < length && OPERATOR_CHARS.has(sql[i])) {
        // An operator ends where a comment starts.
        const here = sql.charCodeAt(i);
        const after = i + 1 < length ? sql.charCodeAt(i + 1) : -1;
        if ((here === Ch.Minus && after === Ch.Minus) || (here === Ch.Slash && after === Ch.Star)) {
          break;
        }
        i++;
      }
      tokens.push({ kind: 'operator', start, end: i, word: '' });
      continue;
    }
    // Anything else (a stray character PostgreSQL would reject) is one operator-like token.
    i++;
    tokens.push({ kind: 'operator', start, end: i, word: '' });
  }
  return tokens;
}

/** The tokens of `sql` split into statements at top-level semicolons (empty statements dropped). */
export function splitStatements(tokens: readonly SqlToken[]): SqlToken[][] {
  const statements: SqlToken[][] = [];
  let current: SqlToken[] = [];
  let depth = 0;
  for (const token of tokens) {
    if (token.kind === 'punctuation') {
      if (token.word === '(' || token.word === '[') depth++;
      else if ((token.word === ')' || token.word === ']') && depth > 0) depth--;
      else if (token.word === ';' && depth === 0) {
        if (current.length > 0) statements.push(current);
        current = [];
        continue;
      }
    }
    current.push(token);
  }
  if (current.length > 0) statements.push(current);
  return statements;
}

function skipLineComment(sql: string, i: number): number {
  const newline = sql.indexOf('\n', i + 2);
  return newline === -1 ? sql.length : newline + 1;
}

/** Block comments nest in PostgreSQL. */
function skipBlockComment(sql: string, i: number): number {
  let depth = 1;
  i += 2;
  while (i < sql.length && depth > 0) {
    const c = sql.charCodeAt(i);
    const next = i + 1 < sql.length ? sql.charCodeAt(i + 1) : -1;
    if (c === Ch.Slash && next === Ch.Star) {
      depth++;
      i += 2;
    } else if (c === Ch.Star && next === Ch.Slash) {
      depth--;
      i += 2;
    } else {
      i++;
    }
  }
  return i;
}

/** After the opening quote: the index past the closing one (doubled quotes are escapes). */
function endOfQuoted(sql: string, i: number, quote: number, backslashes: boolean): number {
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (backslashes && c === Ch.Backslash) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

/**
 * `$tag$ ... $tag$` starting at `i`: the index past its end, or -1 when the
 * dollar does not open a dollar-quoted string.
 */
function endOfDollarQuoted(sql: string, i: number): number {
  let tagEnd = i + 1;
  if (tagEnd < sql.length && isIdentStart(sql.charCodeAt(tagEnd))) {
    tagEnd++;
    while (tagEnd < sql.length && isIdentPart(sql.charCodeAt(tagEnd))) {
      if (sql.charCodeAt(tagEnd) === Ch.Dollar) break;
      tagEnd++;
    }
  }
  if (sql.charCodeAt(tagEnd) !== Ch.Dollar) return -1;
  const tag = sql.slice(i, tagEnd + 1);
  const close = sql.indexOf(tag, tagEnd + 1);
  return close === -1 ? sql.length : close + tag.length;
}

/**
 * `E'`, `B'`, `X'`, `N'`, `U&'` and `U&"` at `i`: the index of their quote,
 * or -1 when the identifier there is not such a prefix.
 */
function stringPrefixEnd(sql: string, i: number): number {
  const lower = sql.charCodeAt(i) | 0x20;
  const next = sql.charCodeAt(i + 1);
  if ((lower === 101 || lower === 98 || lower === 120 || lower === 110) && next === Ch.Quote) {
    return i + 1;
  }
  if (lower === 117 && next === Ch.Ampersand) {
    const quote = sql.charCodeAt(i + 2);
    if (quote === Ch.Quote || quote === Ch.DoubleQuote) return i + 2;
  }
  return -1;
}

function endOfNumber(sql: string, i: number): number {
  const length = sql.length;
  if (sql.charCodeAt(i) === Ch.Zero && /[xXoObB]/.test(sql[i + 1] ?? '')) {
    i += 2;
    while (i < length && /[0-9a-fA-F_]/.test(sql[i])) i++;
    return i;
  }
  while (i < length && (isDigit(sql.charCodeAt(i)) || sql.charCodeAt(i) === Ch.Underscore)) i++;
  if (sql.charCodeAt(i) === Ch.Dot && sql.charCodeAt(i + 1) !== Ch.Dot) {
    i++;
    while (i < length && (isDigit(sql.charCodeAt(i)) || sql.charCodeAt(i) === Ch.Underscore)) i++;
  }
  if ((sql.charCodeAt(i) | 0x20) === 101) {
    const sign = sql.charCodeAt(i + 1);
    const digitAt = sign === 43 || sign === Ch.Minus ? i + 2 : i + 1;
    if (isDigit(sql.charCodeAt(digitAt))) {
      i = digitAt;
      while (i < length && isDigit(sql.charCodeAt(i))) i++;
    }
  }
  return i;
}
