import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { UpstreamConnection } from '#engine';
import { SessionRelay } from '../src/wire/session/session-relay';
import type { RelayLimits } from '../src/wire/session/relay-limits';

/*
 * SessionRelay between a scripted client and a scripted upstream: frames
 * are built here by hand, what each side receives is read back.
 */

class ScriptedPeer extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.written.push(chunk);
    callback();
  }
  get received(): Buffer {
    return Buffer.concat(this.written);
  }
  /** Message types received so far, in order. */
  get types(): string {
    const all = this.received;
    let out = '';
    for (let i = 0; i + 5 <= all.length; i += 1 + all.readInt32BE(i + 1))
      out += String.fromCharCode(all[i]!);
    return out;
  }
}

function message(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(data.length + 4, 1);
  return Buffer.concat([header, data]);
}
const query = (sql: string) => message('Q', `${sql}\0`);
const ready = (status: 'I' | 'T' | 'E') => message('Z', status);
const row = (value: string) => {
  const body = Buffer.alloc(6 + value.length);
  body.writeInt16BE(1, 0);
  body.writeInt32BE(value.length, 2);
  body.write(value, 6);
  return message('D', body);
};
const complete = (tag: string) => message('C', `${tag}\0`);
const error = (code: string, message_: string) =>
  message('E', `SERROR\0C${code}\0M${message_}\0\0`);
const tick = () => new Promise((resolve) => setImmediate(resolve));

const NO_LIMITS: RelayLimits = {
  statementTimeoutMs: 0,
  idleInTransactionTimeoutMs: 0,
  idleSessionTimeoutMs: 0,
  maxResultRows: 0,
  maxResultBytes: 0,
  maxMessageLength: 1 << 20,
};

function setup(limits: RelayLimits = NO_LIMITS) {
  const client = new ScriptedPeer();
  const upstream = new ScriptedPeer();
  let deliverCancel: () => void = () => undefined;
  let cancels = 0;
  const connection = new UpstreamConnection(
    upstream,
    new Map(),
    { processId: 4242, secretKey: Buffer.alloc(4) },
    () => {
      cancels++;
      return new Promise<void>((resolve) => (deliverCancel = resolve));
    },
  );
  let ended = 0;
  const relay = new SessionRelay(client, connection, limits, { ended: () => ended++ });
  relay.start(Buffer.alloc(0));
  return {
    client,
    upstream,
    connection,
    relay,
    ended: () => ended,
    cancels: () => cancels,
    deliverCancel: () => deliverCancel(),
  };
}

describe('SessionRelay', () => {
  test('a statement and its answer pass unchanged; the connection goes busy, then idle', async () => {
    const { client, upstream, connection, relay } = setup();
    client.push(query('SELECT 1'));
    await tick();
    assert.deepEqual(upstream.received, query('SELECT 1'));
    assert.equal(connection.state, 'busy');
    assert.equal(relay.isIdle(), false);
    const answer = Buffer.concat([row('1'), complete('SELECT 1'), ready('I')]);
    upstream.push(answer);
    await tick();
    assert.deepEqual(client.received, answer);
    assert.equal(connection.state, 'idle');
    assert.equal(relay.isIdle(), true);
  });

  test('the messages of one received chunk leave in one write; a partial one at its end waits for the rest', async () => {
    const { client, upstream } = setup();
    client.push(query('SELECT 1'));
    await tick();
    const answer = Buffer.concat([row('1'), row('2'), complete('SELECT 2'), ready('I')]);
    const cut = answer.length - 3; // inside ReadyForQuery
    upstream.push(answer.subarray(0, cut));
    await tick();
    assert.equal(client.written.length, 1, 'one write for the complete messages');
    assert.deepEqual(client.written[0], answer.subarray(0, answer.length - ready('I').length));
    upstream.push(answer.subarray(cut));
    await tick();
    assert.equal(client.written.length, 2);
    assert.deepEqual(client.written[1], ready('I'));
    assert.deepEqual(client.received, answer);
  });

  test('pipelined statements keep the connection busy until the last ReadyForQuery', async () => {
    const { client, upstream, connection, relay } = setup();
    client.push(Buffer.concat([query('SELECT 1'), query('SELECT 2')]));
    await tick();
    upstream.push(Buffer.concat([complete('SELECT 1'), ready('I')]));
    await tick();
    assert.equal(connection.state, 'busy', 'the second statement is still on its way');
    assert.equal(relay.isIdle(), false);
    upstream.push(Buffer.concat([complete('SELECT 1'), ready('I')]));
    await tick();
    assert.equal(relay.isIdle(), true);
  });

  test('Terminate is not forwarded; an idle connection is kept for the pool', async () => {
    const { client, upstream, connection, ended } = setup();
    client.push(message('X'));
    await tick();
    assert.equal(upstream.written.length, 0);
    assert.equal(ended(), 1);
    assert.equal(upstream.destroyed, false);
    assert.equal(connection.reusable, true);
    assert.equal(upstream.listenerCount('data'), 0, 'the relay let go of the upstream socket');
  });

  test('a client that leaves inside a transaction: the connection is discarded', async () => {
    const { client, upstream, connection, ended } = setup();
    client.push(query('BEGIN'));
    upstream.push(Buffer.concat([complete('BEGIN'), ready('T')]));
    await tick();
    client.push(message('X'));
    await tick();
    assert.equal(ended(), 1);
    assert.equal(connection.state, 'broken');
    assert.ok(upstream.destroyed, 'PostgreSQL rolls back on EOF');
  });

  test('past the row limit: one cancel, client bytes held until it is delivered, 54000 instead of 57014', async () => {
    const { client, upstream, connection, cancels, deliverCancel } = setup({
      ...NO_LIMITS,
      maxResultRows: 1,
    });
    client.push(query('SELECT g FROM big'));
    await tick();
    upstream.push(Buffer.concat([row('1'), row('2'), row('3')]));
    await tick();
    assert.equal(cancels(), 1);
    assert.equal(client.types, 'D', 'rows past the limit are dropped');
    client.push(query('SELECT 2'));
    await tick();
    assert.equal(upstream.types, 'Q', 'the next statement waits for the cancel to be delivered');
    deliverCancel();
    await tick();
    await tick();
    assert.equal(upstream.types, 'QQ');
    upstream.push(
      Buffer.concat([error('57014', 'canceling statement due to user request'), ready('I')]),
    );
    await tick();
    const text = client.received.toString('latin1');
    assert.match(text, /C54000/);
    assert.match(text, /result exceeds the limit of 1 rows/);
    assert.doesNotMatch(text, /C57014/);
    upstream.push(Buffer.concat([complete('SELECT 1'), ready('I')]));
    await tick();
    assert.equal(connection.state, 'idle');
    assert.equal(connection.reusable, false, 'a cancelled connection never serves another client');
  });

  test("COPY OUT data counts as rows (HARD-12), and COPY state is the connection's", async () => {
    const { client, upstream, connection, cancels } = setup({ ...NO_LIMITS, maxResultRows: 1 });
    client.push(query('COPY t TO STDOUT'));
    await tick();
    upstream.push(message('H', Buffer.from([0, 0, 0])));
    await tick();
    assert.equal(connection.state, 'copy-out');
    upstream.push(Buffer.concat([message('d', 'a\n'), message('d', 'b\n')]));
    await tick();
    assert.equal(cancels(), 1);
    assert.equal(client.types, 'Hd');
  });

  test('a NotificationResponse passes byte for byte: clients know the backend pid', async () => {
    const { client, upstream } = setup();
    const body = Buffer.alloc(4);
    body.writeInt32BE(777);
    const notification = message('A', Buffer.concat([body, Buffer.from('chan\0payload\0')]));
    upstream.push(notification);
    await tick();
    assert.deepEqual(client.received, notification);
  });

  test('an upstream EOF between messages ends the client with FATAL 08006', async () => {
    const { client, upstream, connection, ended } = setup();
    upstream.push(null);
    await tick();
    await tick();
    assert.match(client.received.toString('latin1'), /SFATAL\0.*C08006/s);
    assert.equal(ended(), 1);
    assert.equal(connection.state, 'broken');
  });
});
