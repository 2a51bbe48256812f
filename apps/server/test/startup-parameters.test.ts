import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PgError } from '#wire';
import { parseOptions, upstreamParameters } from '../src/wire/session/startup-parameters';

const params = (entries: Record<string, string>) => new Map(Object.entries(entries));

test('PROTO-07: allowed settings pass with canonical names; user, database and _pq_ are consumed', () => {
  assert.deepEqual(
    upstreamParameters(
      params({
        user: 'admin',
        database: 'admin/main',
        '_pq_.foo': 'x',
        application_name: 'psql',
        datestyle: 'ISO, MDY',
        client_encoding: 'UTF8',
      }),
    ),
    { application_name: 'psql', DateStyle: 'ISO, MDY', client_encoding: 'UTF8' },
  );
});

test('PROTO-07b: role, session_authorization, replication, read-only switches and unknown keys are refused', () => {
  for (const key of [
    'role',
    'session_authorization',
    'replication',
    'default_transaction_read_only',
    'transaction_read_only',
    'work_mem',
  ]) {
    assert.throws(
      () => upstreamParameters(params({ [key]: 'x' })),
      (err: unknown) =>
        err instanceof PgError && err.sqlstate === '08P01' && err.message.includes(key),
    );
  }
});

test('PROTO-07c: options are split like pg_split_opts, and only -c/-- of allowed keys pass', () => {
  assert.deepEqual(parseOptions('-c search_path=a\\ b -csearch-path=c --DateStyle=ISO'), [
    ['search_path', 'a b'],
    ['search_path', 'c'],
    ['DateStyle', 'ISO'],
  ]);
  assert.deepEqual(upstreamParameters(params({ options: '-c statement_timeout=5s' })), {
    statement_timeout: '5s',
  });
  for (const options of [
    '-c default_transaction_read_only=off',
    '-c search_path=x -c role=postgres',
    '--session_authorization=postgres',
    '-c',
    '-c novalue',
    '-P',
    'search_path=x',
  ]) {
    assert.throws(() => upstreamParameters(params({ options })), PgError, options);
  }
});
