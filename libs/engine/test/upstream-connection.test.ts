import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { runSimpleQuery, UpstreamConnection } from '#engine';

/*
 * UpstreamConnection against a scripted upstream: the protocol state, the
 * one decision about reuse, the cancel, and the one frame reader that
 * serves the pool's queries and a raw relay in turn.
 */

class ScriptedUpstream extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.written.push(chunk);
    callback();
  }
}

function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
const ready = (status: 'I' | 'T' | 'E') => message('Z', Buffer.from(status));

function setup() {
  const upstream = new ScriptedUpstream();
  const cancels: number[] = [];
  let deliver: () => void = () => undefined;
  const connection = new UpstreamConnection(
    upstream,
    new Map([['server_version', '15']]),
    { processId: 4242, secretKey: Buffer.from([1, 2, 3, 4]) },
    (key) => {
      cancels.push(key.processId);
      return new Promise<void>((resolve) => (deliver = resolve));
    },
  );
  return { upstream, connection, cancels, deliver: () => deliver() };
}

describe('UpstreamConnection', () => {
  test('idle and reusable when fresh; the pid is the backend one', () => {
    const { connection } = setup();
    assert.equal(connection.state, 'idle');
    assert.equal(connection.reusable, true);
    assert.equal(connection.processId, 4242);
  });

  test('protocol state follows what its user saw, and only idle is reusable', () => {
    const { connection } = setup();
    connection.sent();
    assert.equal(connection.state, 'busy');
    assert.equal(connection.reusable, false);
    connection.ready('T');
    assert.equal(connection.state, 'in-transaction');
    assert.equal(connection.transactionStatus, 'T');
    assert.equal(connection.reusable, false);
    connection.sent();
    connection.ready('E');
    assert.equal(connection.state, 'failed');
    assert.equal(connection.reusable, false);
    connection.sent();
    connection.ready('I');
    assert.equal(connection.state, 'idle');
    assert.equal(connection.reusable, true);
  });

  test('a COPY state stands through a pipelined Sync until its own end', () => {
    const { connection } = setup();
    connection.sent();
    connection.copy('copy-in');
    connection.sent(); // a Sync pipelined behind the COPY
    assert.equal(connection.state, 'copy-in');
    connection.copyEnded('copy-out'); // not this COPY's end
    assert.equal(connection.state, 'copy-in');
    connection.copyEnded('copy-in');
    assert.equal(connection.state, 'busy');
    connection.ready('I');
    assert.equal(connection.reusable, true);
  });

  test('a cancel is sent once while in flight, is awaited, and the connection is never reused', async () => {
    const { connection, cancels, deliver } = setup();
    connection.sent();
    const first = connection.cancel();
    const second = connection.cancel();
    assert.deepEqual(cancels, [4242], 'one CancelRequest for concurrent cancels');
    assert.ok(connection.pendingCancel, 'in flight until PostgreSQL took it');
    deliver();
    await Promise.all([first, second]);
    assert.equal(connection.pendingCancel, null);
    connection.ready('I');
    assert.equal(connection.state, 'idle');
    assert.equal(connection.everCancelled, true);
    assert.equal(
      connection.reusable,
      false,
      'a late cancel could hit the next user (PgBouncer #717)',
    );
  });

  test('a retired connection (its backend being terminated by pid) is never reused', () => {
    const { connection } = setup();
    connection.retire();
    assert.equal(connection.state, 'idle');
    assert.equal(connection.reusable, false);
  });

  test('discard closes the socket; nothing revives a broken connection', () => {
    const { upstream, connection } = setup();
    connection.discard();
    assert.ok(upstream.destroyed);
    connection.ready('I');
    connection.sent();
    assert.equal(connection.state, 'broken');
    assert.equal(connection.reusable, false);
  });

  test('a socket closing under it leaves it broken', async () => {
    const { upstream, connection } = setup();
    upstream.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(connection.state, 'broken');
    assert.equal(connection.reusable, false);
  });

  test('one frame reader for its life: detached for a relay, attached again for the next query', async () => {
    const { upstream, connection } = setup();
    const framed = connection.framed();
    const query = runSimpleQuery(connection, 'SELECT 1');
    assert.equal(connection.state, 'busy');
    upstream.push(Buffer.concat([message('C', Buffer.from('SELECT 1\0')), ready('I')]));
    assert.equal((await query).status, 'I');
    assert.equal(connection.state, 'idle');
    assert.equal(connection.takeStream().length, 0, 'nothing read ahead');
    assert.equal(upstream.listenerCount('data'), 0, 'a relay gets the socket to itself');
    const again = runSimpleQuery(connection, 'SELECT 2');
    assert.equal(connection.framed(), framed, 'the same reader, not a new one');
    upstream.push(ready('T'));
    assert.equal((await again).status, 'T');
    assert.equal(connection.state, 'in-transaction');
  });

  test('bytes read ahead of a ReadyForQuery make it not reusable', async () => {
    const { upstream, connection } = setup();
    const query = runSimpleQuery(connection, 'SELECT 1');
    upstream.push(Buffer.concat([ready('I'), message('N', Buffer.from('S\0NOTICE\0\0'))]));
    await query;
    assert.equal(connection.state, 'idle');
    assert.equal(connection.reusable, false, 'something arrived nobody asked for');
  });
});
