import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { LiteralRedactor } from '../src/audit/literal-redaction';

/** POSTERN_AUDIT_REDACT_LITERALS: what is left of a statement's text. */
describe('AUDIT-09 literal redaction of recorded statements', () => {
  let redactor: LiteralRedactor;
  before(async () => {
    redactor = await LiteralRedactor.load();
  });
  const cases: Array<[string, string, string]> = [
    [
      'plain strings and numbers',
      "SELECT * FROM t WHERE a = 'secret' AND b = 42",
      'SELECT * FROM t WHERE a = $? AND b = $?',
    ],
    ['doubled quotes', "SELECT 'it''s'", 'SELECT $?'],
    ['E strings with escaped quotes', "SELECT E'a\\'b', e'x'", 'SELECT $?, $?'],
    ['dollar quotes, tagged or not', "SELECT $$it's$$, $t$x $$ y$t$", 'SELECT $?, $?'],
    ['bit, hex and Unicode strings', "SELECT B'101', X'1F', U&'d\\0061t'", 'SELECT $?, $?, $?'],
    ['floats and negatives', 'SELECT 1.5e3, .5, -7', 'SELECT $?, $?, -$?'],
    [
      'comments, nested ones too',
      "SELECT 1 -- pw 'x'\n/* a /* b */ c */ FROM t",
      'SELECT $? $?\n$? FROM t',
    ],
    [
      'parameters, identifiers and casts stay',
      `SELECT $1, "na'me", 'x'::text FROM "Tab"`,
      `SELECT $1, "na'me", $?::text FROM "Tab"`,
    ],
    [
      'multi-byte text before and inside literals',
      "SELECT 'é' AS \"näme\", 'ü'",
      'SELECT $? AS "näme", $?',
    ],
    ['a statement that does not parse is still redacted', "SELEC 'secret' FRM t", 'SELEC $? FRM t'],
    [
      'COPY data options',
      "COPY t FROM STDIN WITH (DELIMITER ';')",
      'COPY t FROM STDIN WITH (DELIMITER $?)',
    ],
  ];
  for (const [what, sql, expected] of cases) {
    test(what, () => assert.equal(redactor.redact(sql), expected));
  }
  test('an unterminated literal (a statement cut at the capture limit) is redacted to the end', () => {
    assert.equal(redactor.redact("INSERT INTO t VALUES ('abc"), 'INSERT INTO t VALUES ($?');
    assert.equal(redactor.redact('SELECT $$never closed'), 'SELECT $?');
    assert.equal(redactor.redact('SELECT 1 /* open comment'), 'SELECT $?');
  });
  test('text without literals is unchanged', () => {
    assert.equal(redactor.redact('SELECT a, b FROM t'), 'SELECT a, b FROM t');
  });
});
