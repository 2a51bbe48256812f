import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  closeStatementMessage,
  parseDefinition,
  parseMessage,
  statementNameOf,
  withStatementName,
} from '#wire';

function frame(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
const cstrings = (...parts: string[]) => Buffer.from(parts.map((part) => `${part}\0`).join(''));
const parse = frame(
  'P',
  Buffer.concat([cstrings('s1', 'SELECT $1'), Buffer.from([0, 1, 0, 0, 0, 23])]),
);
const bind = frame('B', Buffer.concat([cstrings('portal', 's1'), Buffer.from([0, 0, 0, 0, 0, 0])]));

describe('statement names in extended-query messages', () => {
  test('read from Parse, Bind, Describe and Close of a statement', () => {
    assert.equal(statementNameOf(parse), 's1');
    assert.equal(statementNameOf(bind), 's1');
    assert.equal(statementNameOf(frame('D', cstrings('Sstmt'))), 'stmt');
    assert.equal(statementNameOf(frame('C', cstrings('S'))), '');
  });

  test('portals and other messages name no statement', () => {
    assert.equal(statementNameOf(frame('D', cstrings('Pportal'))), null);
    assert.equal(statementNameOf(frame('E', Buffer.from([0, 0, 0, 0, 0]))), null);
  });

  test('replaced with the length field following, the rest untouched', () => {
    const renamed = withStatementName(bind, 'postern_12');
    assert.equal(renamed.readInt32BE(1), renamed.length - 1);
    assert.equal(statementNameOf(renamed), 'postern_12');
    assert.deepEqual(renamed.subarray(5, 12), Buffer.from('portal\0'));
    assert.deepEqual(renamed.subarray(-6), bind.subarray(-6));
    const unnamed = withStatementName(parse, '');
    assert.equal(statementNameOf(unnamed), '');
    assert.deepEqual(parseDefinition(unnamed), parseDefinition(parse));
  });

  test('a Parse rebuilt from its definition is the same message', () => {
    assert.deepEqual(parseMessage('s1', parseDefinition(parse)), parse);
    const close = closeStatementMessage('postern_3');
    assert.deepEqual(close, frame('C', cstrings('Spostern_3')));
  });

  test('a name without its terminator is a protocol violation (08P01)', () => {
    assert.throws(() => statementNameOf(frame('P', Buffer.from('s1'))), { sqlstate: '08P01' });
    assert.throws(() => statementNameOf(frame('B', Buffer.from('portal'))), { sqlstate: '08P01' });
  });
});
