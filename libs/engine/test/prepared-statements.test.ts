import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientStatements, ConnectionStatements, statementKey } from '#engine';

const definition = (sql: string) => Buffer.from(`${sql}\0\0\0`);

describe('ClientStatements', () => {
  test('a named statement is defined once (42P05 otherwise); the unnamed one is replaced', () => {
    const statements = new ClientStatements(10);
    assert.equal(statements.define('a', definition('SELECT 1')), 'defined');
    assert.equal(statements.define('a', definition('SELECT 2')), 'exists');
    assert.equal(statements.define('', definition('SELECT 1')), 'defined');
    assert.equal(statements.define('', definition('SELECT 2')), 'defined');
    assert.equal(statements.get('')!.key, statementKey(definition('SELECT 2')));
    statements.close('a');
    statements.close('never-defined');
    assert.equal(statements.define('a', definition('SELECT 3')), 'defined');
  });

  test('the same text and types give the same key from any client; different ones do not', () => {
    const one = new ClientStatements(10);
    const other = new ClientStatements(10);
    one.define('x', definition('SELECT $1'));
    other.define('y', definition('SELECT $1'));
    assert.equal(one.get('x')!.key, other.get('y')!.key);
    other.define('z', Buffer.from('SELECT $1\0\0\x01\0\0\0\x17'));
    assert.notEqual(one.get('x')!.key, other.get('z')!.key);
  });

  test('bounded: past capacity a new name is refused, replacing the unnamed one is not', () => {
    const statements = new ClientStatements(2);
    statements.define('a', definition('SELECT 1'));
    statements.define('', definition('SELECT 2'));
    assert.equal(statements.define('b', definition('SELECT 3')), 'too-many');
    assert.equal(statements.define('', definition('SELECT 4')), 'defined');
    statements.clear();
    assert.equal(statements.size, 0);
  });

  test('keeps its own copy of the definition (the message buffer is reused)', () => {
    const statements = new ClientStatements(2);
    const bytes = definition('SELECT 1');
    statements.define('a', bytes);
    bytes.fill(0);
    assert.equal(statements.get('a')!.definition.toString('latin1'), 'SELECT 1\0\0\0');
  });
});

describe('ConnectionStatements', () => {
  test('prepares a statement once per connection, under names of its own', () => {
    const connection = new ConnectionStatements(10);
    assert.deepEqual(connection.prepare('k1'), { name: 'postern_1', parse: true, evicted: null });
    assert.deepEqual(connection.prepare('k1'), { name: 'postern_1', parse: false, evicted: null });
    assert.deepEqual(connection.prepare('k2'), { name: 'postern_2', parse: true, evicted: null });
  });

  test('evicts the least recently used statement when full', () => {
    const connection = new ConnectionStatements(2);
    connection.prepare('k1');
    connection.prepare('k2');
    connection.prepare('k1');
    assert.deepEqual(connection.prepare('k3'), {
      name: 'postern_3',
      parse: true,
      evicted: 'postern_2',
    });
    assert.equal(connection.size, 2);
    assert.equal(connection.prepare('k1').parse, false);
    assert.equal(connection.prepare('k2').parse, true);
  });

  test('a failed Parse and DEALLOCATE ALL forget what they dropped; names are never reused', () => {
    const connection = new ConnectionStatements(4);
    connection.prepare('k1');
    connection.forget('k1');
    assert.deepEqual(connection.prepare('k1'), { name: 'postern_2', parse: true, evicted: null });
    connection.clear();
    assert.equal(connection.prepare('k1').name, 'postern_3');
  });
});
