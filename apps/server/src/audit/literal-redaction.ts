import { loadModule, scanSync, type ScanToken } from 'libpg-query';

/** What a literal, a comment or text the scanner could not read becomes. */
export const REDACTED = '$?';

/**
 * Literal redaction for recorded statements, with PostgreSQL's own lexer
 * (libpg-query: the server's scanner compiled to WebAssembly). A scanner, not
 * a parser: statements that fail to parse (the failed ones an audit log is
 * most about) are still tokenised, and nothing is re-printed but the literal
 * spans. String constants in every form ('...', E'...', U&'...', $tag$...$tag$,
 * B'...', X'...'), numbers and comments (which may quote anything) become `$?`;
 * identifiers, keywords and operators stay. Text the lexer cannot read (an
 * unterminated quote, a statement cut at the capture limit) is redacted from
 * the first token it could not read to the end.
 */
export class LiteralRedactor {
  private constructor() {}

  /** Loads the WebAssembly lexer once (a few MB); only when redaction is on. */
  static async load(): Promise<LiteralRedactor> {
    await loadModule();
    return new LiteralRedactor();
  }

  redact(sql: string): string {
    const tokens = scanTokens(sql);
    if (tokens) return replaceLiterals(sql, tokens);
    return redactUnscannable(sql);
  }
}

function scanTokens(sql: string): readonly ScanToken[] | null {
  try {
    return scanSync(sql).tokens;
  } catch {
    return null;
  }
}

const LITERAL_TOKENS = new Set(['SCONST', 'USCONST', 'ICONST', 'FCONST', 'BCONST', 'XCONST']);
const COMMENT_TOKENS = new Set(['SQL_COMMENT', 'C_COMMENT']);

/**
 * B'..', X'..' and U&'..' come back as UNKNOWN tokens: a token with a single
 * quote is a literal unless it is a quoted identifier ("it's", U&"...").
 */
function isLiteral(token: ScanToken): boolean {
  return (
    LITERAL_TOKENS.has(token.tokenName) ||
    COMMENT_TOKENS.has(token.tokenName) ||
    (token.text.includes("'") && !/^(u&)?"/i.test(token.text))
  );
}

/** Token offsets are bytes of the UTF-8 text. */
function replaceLiterals(sql: string, tokens: readonly ScanToken[]): string {
  const bytes = Buffer.from(sql, 'utf8');
  let out = '';
  let at = 0;
  for (const token of tokens) {
    if (!isLiteral(token)) continue;
    out += bytes.toString('utf8', at, token.start) + REDACTED;
    at = token.end;
  }
  // After the last token only blanks should be left; anything else the scanner
  // did not account for is not kept.
  const scanned = tokens.length > 0 ? tokens[tokens.length - 1]!.end : 0;
  const tail = bytes.toString('utf8', scanned);
  return out + bytes.toString('utf8', at, scanned) + (tail.trim() === '' ? tail : ` ${REDACTED}`);
}

/**
 * The lexer refused the text (an unterminated quote or comment, often a
 * statement cut at the capture limit): keep what precedes the first quote,
 * dollar, digit or comment start, redact the rest.
 */
function redactUnscannable(sql: string): string {
  const stop = sql.search(/['"$0-9]|--|\/\*/);
  if (stop < 0) return sql;
  const head = sql.slice(0, stop);
  // A double-quoted identifier may hold anything too; the head stops before it.
  return `${head}${REDACTED}`;
}
