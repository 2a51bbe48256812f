import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sessionSettings, settingsChange } from '#engine';

const settings = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('settingsChange', () => {
  test('nothing to do when the connection already has the client settings', () => {
    assert.equal(settingsChange(settings({ a: '1' }), settings({ a: '1' })), null);
    assert.equal(settingsChange(settings({}), settings({})), null);
  });

  test('sets what differs or is missing, resets what the client does not have', () => {
    assert.equal(
      settingsChange(
        settings({ search_path: 'app', TimeZone: 'UTC', 'app.tenant': 'x' }),
        settings({ search_path: '"$user", public', work_mem: '4096' }),
      ),
      "SELECT pg_catalog.set_config('search_path', '\"$user\", public', false), " +
        "pg_catalog.set_config('work_mem', '4096', false); " +
        'RESET "TimeZone"; RESET "app"."tenant"',
    );
  });

  test('names compare case-insensitively, as PostgreSQL compares them', () => {
    const fromStartup = sessionSettings({ TimeZone: 'UTC', DateStyle: 'ISO' });
    const fromPgSettings = sessionSettings([
      ['timezone', 'UTC'],
      ['datestyle', 'ISO'],
    ]);
    assert.equal(settingsChange(fromPgSettings, fromStartup), null);
  });

  test('values are quoted as literals', () => {
    assert.equal(
      settingsChange(settings({}), settings({ application_name: "it's; RESET ALL" })),
      "SELECT pg_catalog.set_config('application_name', 'it''s; RESET ALL', false)",
    );
  });
});
