import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginGate, LoginThrottle } from '#auth';

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

test('HARD-02: LoginGate judges and counts in one step: past the limit attempts are refused and not counted, whatever the proof', () => {
  const clock = { now: 1_000_000 };
  const gate = new LoginGate(
    {
      pair: { policy, clearedBySuccess: true },
      address: { policy: { ...policy, blockAfter: 40, slowAfter: 20 }, clearedBySuccess: false },
    },
    () => clock.now,
  );
  const keys = { pair: '10.0.0.1 alice', address: '10.0.0.1' };
  const verdicts = Array.from({ length: 100 }, (_, i) => gate.settle(keys, i === 90));
  assert.equal(verdicts.filter((v) => v.admitted).length, policy.blockAfter);
  assert.equal(verdicts[90]!.admitted, false, 'the right password past the limit is refused');
  // Refused attempts were not counted on the address: another name from it is admitted.
  assert.equal(gate.settle({ pair: '10.0.0.1 bob', address: '10.0.0.1' }, true).admitted, true);
});

test('LoginGate: a success clears only the keys whose rule says so', () => {
  const clock = { now: 1_000_000 };
  const gate = new LoginGate(
    {
      pair: { policy, clearedBySuccess: true },
      user: { policy, clearedBySuccess: false },
    },
    () => clock.now,
  );
  for (let i = 0; i < 3; i++) gate.settle({ pair: 'a alice', user: 'alice' }, false);
  assert.equal(gate.settle({ pair: 'a alice', user: 'alice' }, true).admitted, true);
  // The pair is clear; the name keeps its three failures: one more blocks it.
  assert.equal(gate.settle({ pair: 'b alice', user: 'alice' }, false).admitted, true);
  assert.equal(gate.settle({ pair: 'a alice', user: 'alice' }, true).admitted, false);
});
