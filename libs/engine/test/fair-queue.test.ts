import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FairQueue } from '#engine';

interface Waiter {
  readonly user: string;
  readonly label: string;
}

/** Serves `slots` waiters one at a time, as a pool freeing one connection after another would. */
function serveOneByOne(queue: FairQueue<Waiter>, slots: number, blocked = new Set<string>()) {
  const served: string[] = [];
  for (let i = 0; i < slots; i++) {
    let free = 1;
    queue.dispatch(
      (waiter) => free > 0 && !blocked.has(waiter.user),
      (waiter) => {
        free--;
        served.push(waiter.label);
      },
    );
  }
  return served;
}

describe('FairQueue (FAIR-01)', () => {
  test("FAIR-01 a user's burst does not make a later user wait behind all of it", () => {
    const queue = new FairQueue<Waiter>();
    for (let i = 0; i < 10; i++) queue.enqueue('alice', { user: 'alice', label: `alice-${i}` });
    queue.enqueue('bob', { user: 'bob', label: 'bob' });
    const served = serveOneByOne(queue, 11);
    assert.deepEqual(served.slice(0, 3), ['alice-0', 'bob', 'alice-1']);
    assert.equal(queue.size, 0);
  });

  test('FAIR-01 turns rotate among every waiting user; each user is served in arrival order', () => {
    const queue = new FairQueue<Waiter>();
    for (const user of ['a', 'b', 'c']) {
      for (let i = 0; i < 3; i++) queue.enqueue(user, { user, label: `${user}${i}` });
    }
    assert.deepEqual(serveOneByOne(queue, 9), [
      'a0',
      'b0',
      'c0',
      'a1',
      'b1',
      'c1',
      'a2',
      'b2',
      'c2',
    ]);
  });

  test('FAIR-01 a user whose own limit is full is skipped and keeps its turn', () => {
    const queue = new FairQueue<Waiter>();
    queue.enqueue('a', { user: 'a', label: 'a0' });
    queue.enqueue('b', { user: 'b', label: 'b0' });
    queue.enqueue('b', { user: 'b', label: 'b1' });
    assert.deepEqual(serveOneByOne(queue, 1, new Set(['a'])), ['b0']);
    assert.deepEqual(serveOneByOne(queue, 2), ['a0', 'b1']);
  });

  test('a waiter that gave up leaves its queue; several free slots serve several waiters at once', () => {
    const queue = new FairQueue<Waiter>();
    const gaveUp = { user: 'a', label: 'a0' };
    queue.enqueue('a', gaveUp);
    queue.enqueue('a', { user: 'a', label: 'a1' });
    queue.enqueue('b', { user: 'b', label: 'b0' });
    assert.equal(queue.remove('a', gaveUp), true);
    assert.equal(queue.remove('a', gaveUp), false);
    let free = 2;
    const served: string[] = [];
    queue.dispatch(
      () => free > 0,
      (waiter) => {
        free--;
        served.push(waiter.label);
      },
    );
    assert.deepEqual(served, ['a1', 'b0']);
    assert.equal(queue.has('a'), false);
  });
});
