import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginThrottle } from '#auth';

const policy = {
  slowAfter: 2,
  blockAfter: 4,
  windowMs: 60_000,
  blockMs: 300_000,
  baseDelayMs: 100,
  maxDelayMs: 250,
};

function throttleAt(start = 1_000_000) {
  const clock = { now: start };
  return { throttle: new LoginThrottle(policy, () => clock.now), clock };
}

test('no failures: no delay, not blocked', () => {
  const { throttle } = throttleAt();
  assert.deepEqual(throttle.check(['alice']), { blocked: false, delayMs: 0 });
});

test('failures beyond slowAfter delay exponentially up to the cap, then block', () => {
  const { throttle } = throttleAt();
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    throttle.recordFailure(['alice']);
    delays.push(throttle.check(['alice']).delayMs);
  }
  assert.deepEqual(delays, [0, 0, 100, 200]);
  assert.equal(throttle.check(['alice']).blocked, true);
  throttle.recordFailure(['alice']);
  assert.equal(throttle.check(['alice']).delayMs, 250, 'capped');
  assert.deepEqual(throttle.check(['bob']), { blocked: false, delayMs: 0 }, 'keys are separate');
});

test('a block lasts blockMs even though the failures leave the window', () => {
  const { throttle, clock } = throttleAt();
  for (let i = 0; i < 4; i++) throttle.recordFailure(['alice']);
  clock.now += policy.windowMs + 1;
  assert.equal(throttle.check(['alice']).blocked, true);
  throttle.recordSuccess('alice');
  assert.equal(throttle.check(['alice']).blocked, true, 'a success does not lift a block');
  clock.now += policy.blockMs;
  assert.deepEqual(throttle.check(['alice']), { blocked: false, delayMs: 0 });
});

test('a success before the block clears the failures; old failures expire', () => {
  const { throttle, clock } = throttleAt();
  for (let i = 0; i < 3; i++) throttle.recordFailure(['alice']);
  throttle.recordSuccess('alice');
  assert.deepEqual(throttle.check(['alice']), { blocked: false, delayMs: 0 });
  for (let i = 0; i < 3; i++) throttle.recordFailure(['bob']);
  clock.now += policy.windowMs;
  assert.deepEqual(throttle.check(['bob']), { blocked: false, delayMs: 0 });
});
