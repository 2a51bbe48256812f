import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LazySessionUpstream, notificationSenderReplaced, type Lease } from '#engine';

const BACKEND_PID = 4321;
const ANNOUNCED_PID = 0x40000010;

/** A lease of a backend with BACKEND_PID that records what was done to it. */
function recordingLease() {
  const done: string[] = [];
  const lease = {
    connection: {
      processId: BACKEND_PID,
      cancel: () => {
        done.push('cancel');
        return Promise.resolve();
      },
      retire: () => done.push('retire'),
    },
    parameters: new Map(),
    reused: true,
    waitedMs: 0,
    release: () => done.push('release'),
  } as unknown as Lease;
  return { lease, done };
}

/** A NotificationResponse from `pid` on channel `jobs` with payload `x`. */
function notification(pid: number): Buffer {
  const body = Buffer.concat([Buffer.alloc(4), Buffer.from('jobs\0x\0')]);
  body.writeInt32BE(pid, 0);
  const frame = Buffer.alloc(5);
  frame[0] = 0x41;
  frame.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([frame, body]);
}

describe('LazySessionUpstream (LAZY)', () => {
  test('LAZY-03 a notification its own backend sent carries the pid its client was told; others pass', () => {
    const own = notificationSenderReplaced(notification(BACKEND_PID), BACKEND_PID, ANNOUNCED_PID);
    assert.ok(Buffer.isBuffer(own));
    assert.deepEqual(own, notification(ANNOUNCED_PID));
    assert.equal(
      notificationSenderReplaced(notification(99), BACKEND_PID, ANNOUNCED_PID),
      'forward',
    );
  });

  test('LAZY-04 before assignment a cancel reaches nothing and there is no backend to retire; after, the held one', async () => {
    const { lease, done } = recordingLease();
    const lazy = new LazySessionUpstream(() => Promise.resolve(lease), ANNOUNCED_PID);
    await lazy.cancel();
    assert.equal(lazy.retire(), null);
    assert.equal(lazy.notification(notification(BACKEND_PID)), 'forward');
    assert.deepEqual(done, []);
    assert.deepEqual(await lazy.assign(), { kind: 'assigned', lease });
    await lazy.cancel();
    assert.equal(lazy.retire(), BACKEND_PID);
    assert.deepEqual(lazy.notification(notification(BACKEND_PID)), notification(ANNOUNCED_PID));
    lazy.release();
    assert.deepEqual(done, ['cancel', 'retire', 'release']);
  });

  test('LAZY-08 a session that ended while it waited for the pool gives the late lease straight back', async () => {
    const { lease, done } = recordingLease();
    let grant: (lease: Lease) => void = () => undefined;
    const lazy = new LazySessionUpstream(
      () => new Promise<Lease>((resolve) => (grant = resolve)),
      ANNOUNCED_PID,
    );
    const assigned = lazy.assign();
    lazy.release();
    grant(lease);
    assert.deepEqual(await assigned, { kind: 'ended' });
    assert.deepEqual(done, ['release']);
    assert.equal(lazy.lease, null);
  });

  test('LAZY-14 a cancel while it waits gives up the wait (signal aborted), a late lease goes back, and it can assign again', async () => {
    const { lease, done } = recordingLease();
    const signals: AbortSignal[] = [];
    let grant: (lease: Lease) => void = () => undefined;
    const lazy = new LazySessionUpstream((signal) => {
      signals.push(signal);
      return new Promise<Lease>((resolve) => (grant = resolve));
    }, ANNOUNCED_PID);
    const assigned = lazy.assign();
    await lazy.cancel();
    assert.equal(signals[0]!.aborted, true);
    grant(lease); // the slot was granted before the abort: the connection comes late
    assert.deepEqual(await assigned, { kind: 'cancelled' });
    assert.deepEqual(done, ['release']);
    assert.equal(lazy.lease, null);
    const again = lazy.assign();
    assert.equal(signals[1]!.aborted, false);
    grant(lease);
    assert.deepEqual(await again, { kind: 'assigned', lease });
  });

  test('LAZY-15 a session that ends while it waits aborts the wait (its place in the queue)', async () => {
    const signals: AbortSignal[] = [];
    const lazy = new LazySessionUpstream((signal) => {
      signals.push(signal);
      return new Promise<Lease>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason as Error)),
      );
    }, ANNOUNCED_PID);
    const assigned = lazy.assign();
    lazy.release();
    assert.equal(signals[0]!.aborted, true);
    assert.deepEqual(await assigned, { kind: 'ended' });
  });
});
