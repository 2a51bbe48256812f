import { lexSql, splitStatements, type SqlToken } from '../sql/sql-lexer';

/**
 * What a client's SQL means for transaction pooling, where the upstream
 * connection is the client's only for a transaction (or one statement
 * outside one) and the next transaction may run on another connection.
 *
 * State that outlives a transaction on the connection would either be lost
 * (the client's next transaction runs elsewhere) or leak into another
 * client's transaction: such statements are refused, naming the mode,
 * rather than silently doing the wrong thing. Session settings are allowed
 * and tracked; deallocation of prepared statements is the gateway's to
 * answer, because the client's prepared statements are the gateway's.
 */
export interface SqlInTransactionMode {
  /** Set when something cannot work in transaction mode: the message for the client. */
  readonly refused: string | null;
  /** SET / RESET / set_config(): the session's settings may have changed. */
  readonly changesSettings: boolean;
  /**
   * `DEALLOCATE name` / `DEALLOCATE ALL` (null) / `DISCARD ALL`: the
   * names (null: all) whose prepared statements the statement drops.
   */
  readonly deallocates: ReadonlyArray<string | null>;
  /** Every statement is a DEALLOCATE (so the gateway may answer it alone). */
  readonly onlyDeallocations: boolean;
  /**
   * nextval() / setval() / an INSERT or COPY FROM (defaults may call
   * nextval): currval() and lastval() are meaningful after it in the same
   * transaction.
   */
  readonly usesSequences: boolean;
}

export interface TransactionContext {
  /** An earlier statement of this transaction used sequences (see `usesSequences`). */
  readonly sequencesUsed: boolean;
}

const SESSION_ADVISORY_LOCKS = new Set([
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
]);
const SEQUENCE_WRITERS = new Set(['nextval', 'setval']);
const SEQUENCE_READERS = new Set(['currval', 'lastval']);

/** Why a statement is refused, as the client reads it. */
function refusal(what: string, instead?: string): string {
  const hint = instead ? `; ${instead}` : '';
  return `${what} is not supported in transaction pooling mode${hint}`;
}

/**
 * Every rule below needs a word that contains one of these (SET, RESET and
 * set_config contain `set`; nextval, setval, currval and lastval `val`; the
 * advisory locks `lock`; SELECT ... INTO TEMP `into`). Words are slices of
 * the SQL, lower-cased: in ASCII text, a case-insensitive search finds each
 * one. Outside ASCII, lower-casing may make an ASCII letter (the Kelvin sign
 * becomes `k`), so any non-ASCII character sends the SQL to the lexer.
 */
const MAY_MATTER =
  /[\u0080-\uffff]|set|val|lock|into|listen|load|prepare|execute|declare|create|deallocate|discard|insert|copy/i;

/**
 * Reads one Query message's SQL (or one Parse's) for transaction pooling.
 * SQL that cannot contain any word a rule looks at (most of it: plain
 * SELECTs, UPDATEs, DELETEs) is not lexed: a relayed statement pays one
 * search over its text.
 */
export function readForTransactionMode(
  sql: string,
  context: TransactionContext,
): SqlInTransactionMode {
  if (!MAY_MATTER.test(sql)) return nothingToRead(context);
  return readEveryStatement(sql, context);
}

/** What SQL without any word a rule looks at means: nothing, beyond what the transaction did. */
function nothingToRead(context: TransactionContext): SqlInTransactionMode {
  return context.sequencesUsed ? PLAIN_AFTER_SEQUENCES : PLAIN;
}

const PLAIN: SqlInTransactionMode = Object.freeze({
  refused: null,
  changesSettings: false,
  deallocates: Object.freeze([]),
  usesSequences: false,
  onlyDeallocations: false,
});
const PLAIN_AFTER_SEQUENCES: SqlInTransactionMode = Object.freeze({
  ...PLAIN,
  usesSequences: true,
});

/** The rules applied to every statement of `sql`, lexed (readForTransactionMode without its shortcut). */
export function readEveryStatement(sql: string, context: TransactionContext): SqlInTransactionMode {
  let refused: string | null = null;
  let changesSettings = false;
  let usesSequences = context.sequencesUsed;
  const deallocates: Array<string | null> = [];
  const statements = splitStatements(lexSql(sql));
  const onlyDeallocations =
    statements.length > 0 && statements.every((tokens) => tokens[0]?.word === 'deallocate');
  for (const statement of statements) {
    const verdict = readStatement(sql, statement, usesSequences);
    refused ??= verdict.refused;
    changesSettings ||= verdict.changesSettings;
    usesSequences ||= verdict.usesSequences;
    deallocates.push(...verdict.deallocates);
  }
  return { refused, changesSettings, deallocates, usesSequences, onlyDeallocations };
}

function readStatement(
  sql: string,
  tokens: readonly SqlToken[],
  sequencesUsed: boolean,
): Omit<SqlInTransactionMode, 'onlyDeallocations'> {
  const words = leadingWords(tokens, 4);
  const calls = calledFunctions(
    words[0] === 'do' ? [...tokens, ...doBlockBody(sql, tokens)] : tokens,
  );
  const outcome = {
    refused: null as string | null,
    changesSettings: false,
    deallocates: [] as Array<string | null>,
    usesSequences:
      words[0] === 'insert' ||
      (words[0] === 'copy' && tokens.some((token) => token.word === 'from')) ||
      calls.some((name) => SEQUENCE_WRITERS.has(name)),
  };
  outcome.refused = refusedStatement(words, tokens) ?? refusedCall(calls, sequencesUsed);
  switch (words[0]) {
    case 'set':
      // SET LOCAL, SET TRANSACTION and SET CONSTRAINTS end with the transaction.
      outcome.changesSettings = !['local', 'transaction', 'constraints'].includes(words[1]);
      break;
    case 'reset':
      outcome.changesSettings = true;
      break;
    case 'deallocate':
      outcome.deallocates.push(deallocatedName(sql, tokens));
      break;
    case 'discard':
      // DISCARD PLANS keeps prepared statements (it drops cached plans); DISCARD ALL does not.
      if (words[1] === 'all') outcome.deallocates.push(null);
      outcome.changesSettings = words[1] === 'all';
      break;
  }
  if (calls.includes('set_config')) outcome.changesSettings = true;
  return outcome;
}

/** Statements whose effect outlives the transaction. */
function refusedStatement(words: readonly string[], tokens: readonly SqlToken[]): string | null {
  const [first, second, third] = words;
  if (first === 'listen') return refusal('LISTEN', 'use session pooling for notifications');
  if (first === 'load') return refusal('LOAD');
  if (first === 'prepare' || first === 'execute') {
    return refusal(
      `SQL ${first.toUpperCase()}`,
      "use the protocol's prepared statements (Parse/Bind), which the gateway keeps across transactions",
    );
  }
  if (first === 'set' && second !== 'local') {
    const target = second === 'session' ? third : second;
    if (target === 'role' || target === 'authorization') {
      return refusal('SET ROLE and SET SESSION AUTHORIZATION', 'use SET LOCAL ROLE');
    }
  }
  if (first === 'declare' && hasSequence(tokens, ['with', 'hold'])) {
    return refusal('a cursor WITH HOLD', 'fetch it within its transaction');
  }
  if (createsTemporaryObject(words, tokens)) {
    return refusal(
      'a temporary object that outlives its transaction',
      'create temporary tables with ON COMMIT DROP',
    );
  }
  return null;
}

function refusedCall(calls: readonly string[], sequencesUsed: boolean): string | null {
  const lock = calls.find((name) => SESSION_ADVISORY_LOCKS.has(name));
  if (lock)
    return refusal(`the session-level advisory lock ${lock}()`, 'use pg_advisory_xact_lock()');
  const reader = calls.find((name) => SEQUENCE_READERS.has(name));
  if (reader && !sequencesUsed && !calls.some((name) => SEQUENCE_WRITERS.has(name))) {
    return refusal(
      `${reader}() before nextval() in the same transaction`,
      'call it in the transaction that called nextval(), or use RETURNING',
    );
  }
  return null;
}

/**
 * CREATE [GLOBAL|LOCAL] TEMP|TEMPORARY ..., unless a table that drops
 * itself at commit; SELECT ... INTO TEMP creates one too.
 */
function createsTemporaryObject(words: readonly string[], tokens: readonly SqlToken[]): boolean {
  const temporary = (word: string | undefined) => word === 'temp' || word === 'temporary';
  if (words[0] === 'create') {
    const scoped = words[1] === 'global' || words[1] === 'local' ? words[2] : words[1];
    if (!temporary(scoped)) return false;
    return !hasSequence(tokens, ['on', 'commit', 'drop']);
  }
  if (words[0] === 'select' || words[0] === 'with') {
    const into = tokens.findIndex((token) => token.word === 'into');
    return into !== -1 && temporary(tokens[into + 1]?.word);
  }
  return false;
}

/** `DEALLOCATE [PREPARE] name|ALL`: the name (its case folded like PostgreSQL's), null for ALL. */
function deallocatedName(sql: string, tokens: readonly SqlToken[]): string | null {
  const nameToken = tokens[1]?.word === 'prepare' ? tokens[2] : tokens[1];
  if (!nameToken || nameToken.word === 'all') return null;
  if (nameToken.kind === 'quoted-identifier') {
    return sql.slice(nameToken.start + 1, nameToken.end - 1).replaceAll('""', '"');
  }
  return nameToken.word;
}

/**
 * The tokens of a DO block's body, so that what it calls is read too (a
 * dollar-quoted or plain string; SQL inside functions it calls is not).
 */
function doBlockBody(sql: string, tokens: readonly SqlToken[]): SqlToken[] {
  const body = tokens.find((token) => token.kind === 'string');
  if (!body) return [];
  const text = sql.slice(body.start, body.end);
  const opener = text.startsWith('$') ? text.indexOf('$', 1) + 1 : 1;
  const closer = text.startsWith('$') ? opener : 1;
  return lexSql(text.slice(opener, text.length - closer));
}

/** The first `count` words, lower-cased ('' past the end or for a non-word). */
function leadingWords(tokens: readonly SqlToken[], count: number): string[] {
  const words: string[] = [];
  for (let i = 0; i < count; i++) words.push(tokens[i]?.kind === 'word' ? tokens[i].word : '');
  return words;
}

/** Names called as functions: a word followed by `(` (schema-qualified: the last part). */
function calledFunctions(tokens: readonly SqlToken[]): string[] {
  const names: string[] = [];
  for (let i = 0; i + 1 < tokens.length; i++) {
    if (tokens[i].kind === 'word' && tokens[i + 1].word === '(') names.push(tokens[i].word);
  }
  return names;
}

function hasSequence(tokens: readonly SqlToken[], words: readonly string[]): boolean {
  outer: for (let i = 0; i + words.length <= tokens.length; i++) {
    for (let j = 0; j < words.length; j++) {
      if (tokens[i + j].word !== words[j]) continue outer;
    }
    return true;
  }
  return false;
}
