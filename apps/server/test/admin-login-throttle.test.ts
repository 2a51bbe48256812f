import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BearerThrottle,
  LoginThrottle,
  SlidingWindow,
  type Admission,
} from '../src/admin/login-throttle';

const limits = {
  perAddressAndUser: { max: 5, windowMs: 60_000 },
  perUser: { max: 25, windowMs: 60_000 },
  perSource: { max: 100, windowMs: 60_000 },
};

function admitted(admission: Admission) {
  assert.ok(admission.admitted, 'expected the attempt to be admitted');
  return admission.reservation;
}

function retryAfter(admission: Admission): number {
  return admission.admitted ? 0 : admission.retryAfterSeconds;
}

test('five failures for a user from one address block that pair until the oldest leaves the window', () => {
  const throttle = new LoginThrottle(limits);
  for (let i = 0; i < 5; i++)
    admitted(throttle.admit('alice', '10.0.0.1', 1000 * i)).failed(1000 * i);
  // Failures at 0..4 s: blocked until 60 s, when the first ages out.
  assert.equal(retryAfter(throttle.admit('alice', '10.0.0.1', 4000)), 56);
  assert.equal(retryAfter(throttle.admit('alice', '10.0.0.1', 59_999)), 1);
  admitted(throttle.admit('alice', '10.0.0.1', 60_000)).released();
  // The same name from elsewhere, and another name from the same address, are not blocked.
  admitted(throttle.admit('alice', '10.0.0.2', 4000)).released();
  admitted(throttle.admit('bob', '10.0.0.1', 4000)).released();
});

test('HARD-02: attempts in flight count at once: a concurrent burst gets at most the limit, and a success gives its place back', () => {
  const throttle = new LoginThrottle(limits);
  const burst = Array.from({ length: 60 }, () => throttle.admit('alice', '10.0.0.1', 0));
  const held = burst.filter((admission) => admission.admitted);
  assert.equal(held.length, 5);
  assert.ok(burst.filter((admission) => !admission.admitted).every((a) => retryAfter(a) > 0));
  // One of them succeeds: its place is free again; another user is not affected at all.
  admitted(held[0]!).succeeded();
  admitted(throttle.admit('alice', '10.0.0.1', 1)).released();
  admitted(throttle.admit('bob', '10.0.0.1', 1)).released();
  // Ending twice counts once.
  const reservation = admitted(held[1]!);
  reservation.failed(1);
  reservation.failed(1);
  reservation.released();
  for (const admission of held.slice(2)) admitted(admission).released();
  // One failure counted: four more are admitted, then the pair is blocked.
  for (let i = 0; i < 4; i++) admitted(throttle.admit('alice', '10.0.0.1', 1)).failed(1);
  assert.ok(retryAfter(throttle.admit('alice', '10.0.0.1', 2)) > 0);
});

test('HARD-02: a name guessed from many addresses is blocked at five times the pair limit', () => {
  const throttle = new LoginThrottle(limits);
  for (let i = 0; i < 25; i++) admitted(throttle.admit('alice', `10.0.1.${i}`, 0)).failed(0);
  assert.ok(retryAfter(throttle.admit('alice', '10.0.2.1', 1)) > 0);
  admitted(throttle.admit('bob', '10.0.2.1', 1)).released();
});

test('HARD-02: an address is blocked only past a spray over many names, not by one burst', () => {
  const throttle = new LoginThrottle(limits);
  for (let i = 0; i < 60; i++) {
    const admission = throttle.admit('alice', '10.0.0.9', 0);
    if (admission.admitted) admission.reservation.failed(0);
  }
  admitted(throttle.admit('admin', '10.0.0.9', 1)).released();
  for (let i = 0; i < 100; i++) admitted(throttle.admit(`user-${i}`, '10.0.0.8', 0)).failed(0);
  assert.ok(retryAfter(throttle.admit('admin', '10.0.0.8', 1)) > 0);
  admitted(throttle.admit('admin', '10.0.0.7', 1)).released();
});

test('a success clears the pair, not the user name across addresses', () => {
  const throttle = new LoginThrottle({ ...limits, perUser: { max: 6, windowMs: 60_000 } });
  for (let i = 0; i < 4; i++) admitted(throttle.admit('alice', '10.0.0.1', 0)).failed(0);
  admitted(throttle.admit('alice', '10.0.0.1', 0)).succeeded();
  for (let i = 0; i < 2; i++) admitted(throttle.admit('alice', '10.0.0.1', 0)).failed(0);
  assert.ok(retryAfter(throttle.admit('alice', '10.0.0.2', 1)) > 0, 'six failures for the name');
});

test('HARD-09: failed bearer credentials per address: the limit holds for attempts in flight', () => {
  const throttle = new BearerThrottle({ max: 3, windowMs: 60_000 });
  const burst = Array.from({ length: 10 }, () => throttle.admit('10.0.0.1', 0));
  assert.equal(burst.filter((admission) => admission.admitted).length, 3);
  for (const admission of burst) if (admission.admitted) admission.reservation.failed(0);
  assert.ok(retryAfter(throttle.admit('10.0.0.1', 1)) > 0);
  admitted(throttle.admit('10.0.0.2', 1)).released();
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
