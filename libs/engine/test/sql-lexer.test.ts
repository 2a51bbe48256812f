import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lexSql, splitStatements, type SqlToken } from '#engine';

const kinds = (sql: string) => lexSql(sql).map((token) => token.kind);
const texts = (sql: string) => lexSql(sql).map((token) => sql.slice(token.start, token.end));
const statementTexts = (sql: string) =>
  splitStatements(lexSql(sql)).map((tokens: SqlToken[]) =>
    sql.slice(tokens[0].start, tokens[tokens.length - 1].end),
  );

describe('lexSql', () => {
  test('words are lower-cased; identifiers keep their characters', () => {
    const tokens = lexSql('SELECT Foo_1$, "Bar" FROM t');
    assert.deepEqual(
      tokens.map((token) => token.word),
      ['select', 'foo_1$', ',', '', 'from', 't'],
    );
    assert.deepEqual(kinds('SELECT Foo_1$, "Bar" FROM t'), [
      'word',
      'word',
      'punctuation',
      'quoted-identifier',
      'word',
      'word',
    ]);
  });

  test('string constants of every form are one token, whatever they contain', () => {
    const sql = `'it''s; -- not a comment' E'back\\'slash;' U&'d\\0061t' B'101' X'ff' N'n' $$dollar; 'quoted'$$ $tag$ $$ inside $tag$`;
    assert.deepEqual(kinds(sql), Array(8).fill('string'));
  });

  test('a backslash escapes only in E strings (standard_conforming_strings)', () => {
    assert.deepEqual(texts(`'a\\' ; 'b'`), [`'a\\'`, ';', `'b'`]);
    assert.deepEqual(texts(`e'a\\' ; ' x`), [`e'a\\' ; '`, 'x']);
  });

  test('comments are skipped, block comments nest, operators stop at a comment', () => {
    assert.deepEqual(texts('SELECT 1 -- LISTEN x\n+ /* a /* b */ LISTEN */ 2'), [
      'SELECT',
      '1',
      '+',
      '2',
    ]);
    assert.deepEqual(texts('a +-- c\nb'), ['a', '+', 'b']);
  });

  test('parameters, numbers and dollar quotes are told apart', () => {
    assert.deepEqual(kinds('$1 + 1.5e-3 + .5 + 0x1F + 1_000 + $a$x$a$'), [
      'parameter',
      'operator',
      'number',
      'operator',
      'number',
      'operator',
      'number',
      'operator',
      'number',
      'operator',
      'string',
    ]);
  });

  test('what is unterminated runs to the end instead of throwing', () => {
    for (const sql of [`'open`, `"open`, '$$open', '/* open', `E'\\`, '-- open']) {
      assert.doesNotThrow(() => lexSql(sql));
    }
    assert.deepEqual(texts(`SELECT 'open; LISTEN x`), ['SELECT', `'open; LISTEN x`]);
  });
});

describe('splitStatements', () => {
  test('splits at top-level semicolons only, dropping empty statements', () => {
    assert.deepEqual(statementTexts(`SET a = 'x;y'; ; SELECT $$;$$; LISTEN "a;b";`), [
      `SET a = 'x;y'`,
      'SELECT $$;$$',
      'LISTEN "a;b"',
    ]);
  });

  test('a semicolon inside brackets does not end the statement', () => {
    assert.equal(statementTexts('SELECT f(1; 2); SELECT 3').length, 2);
  });
});
