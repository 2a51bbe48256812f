import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginThrottle, SlidingWindow } from '../src/admin/login-throttle';

const limits = {
  perUser: { max: 5, windowMs: 60_000 },
  perSource: { max: 20, windowMs: 60_000 },
};

test('five failures for a user block it until the oldest leaves the window', () => {
  const throttle = new LoginThrottle(limits);
  for (let i = 0; i < 5; i++) {
    assert.equal(throttle.retryAfterSeconds('alice', '10.0.0.1', 1000 * i), 0);
    throttle.recordFailure('alice', '10.0.0.1', 1000 * i);
  }
  // Failures at 0..4 s: blocked until 60 s, when the first ages out.
  assert.equal(throttle.retryAfterSeconds('alice', '10.0.0.2', 4000), 56);
  assert.equal(throttle.retryAfterSeconds('alice', '10.0.0.2', 59_999), 1);
  assert.equal(throttle.retryAfterSeconds('alice', '10.0.0.2', 60_000), 0);
  // Another user from the same address is not blocked.
  assert.equal(throttle.retryAfterSeconds('bob', '10.0.0.1', 4000), 0);
});

test('twenty failures from one address block every user name from it', () => {
  const throttle = new LoginThrottle(limits);
  for (let i = 0; i < 20; i++) throttle.recordFailure(`user-${i}`, '10.0.0.9', 0);
  assert.ok(throttle.retryAfterSeconds('admin', '10.0.0.9', 10) > 0);
  assert.equal(throttle.retryAfterSeconds('admin', '10.0.0.8', 10), 0);
});

test('a success clears the user name, not the address', () => {
  const throttle = new LoginThrottle({
    perUser: limits.perUser,
    perSource: { max: 5, windowMs: 60_000 },
  });
  for (let i = 0; i < 5; i++) throttle.recordFailure('alice', '10.0.0.1', 0);
  throttle.recordSuccess('alice');
  assert.equal(throttle.retryAfterSeconds('alice', '10.0.0.2', 1), 0);
  assert.ok(throttle.retryAfterSeconds('alice', '10.0.0.1', 1) > 0);
});

test('a sliding window keeps a bounded number of keys', () => {
  const window = new SlidingWindow({ max: 3, windowMs: 1000 }, 100);
  for (let i = 0; i < 1000; i++) window.record(`name-${i}`, i);
  assert.ok(window.size <= 100, `kept ${window.size} keys`);
  // The most recent keys survive pruning.
  window.record('name-999', 1000);
  window.record('name-999', 1000);
  assert.ok(window.retryAfterMs('name-999', 1000) > 0);
});
