import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config';

describe('HARD-06 POSTERN_MAX_DATABASES_PER_USER', () => {
  test('defaults to 10 and takes a positive integer', () => {
    assert.equal(loadConfig({}, '/tmp').maxDatabasesPerOwner, 10);
    assert.equal(
      loadConfig({ POSTERN_MAX_DATABASES_PER_USER: '25' }, '/tmp').maxDatabasesPerOwner,
      25,
    );
  });

  test('anything else stops the start naming the variable', () => {
    for (const value of ['0', '-1', 'ten', '1.5']) {
      assert.throws(
        () => loadConfig({ POSTERN_MAX_DATABASES_PER_USER: value }, '/tmp'),
        (err: unknown) =>
          err instanceof ConfigError && err.message.includes('POSTERN_MAX_DATABASES_PER_USER'),
      );
    }
  });
});
