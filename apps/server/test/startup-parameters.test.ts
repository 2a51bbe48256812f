import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PgError } from '#wire';
import { parseOptions, upstreamParameters } from '../src/wire/session/startup-parameters';

const params = (entries: Record<string, string>) => new Map(Object.entries(entries));

test('PROTO-07: settings pass lowercased; user, database and _pq_ are consumed', () => {
  assert.deepEqual(
    upstreamParameters(
      params({
        user: 'admin',
        database: 'admin/main',
        '_pq_.foo': 'x',
        application_name: 'psql',
        datestyle: 'ISO, MDY',
        client_encoding: 'UTF8',
        work_mem: '64MB',
        default_transaction_read_only: 'off',
        'myapp.tenant': '7',
      }),
    ),
    {
      application_name: 'psql',
      datestyle: 'ISO, MDY',
      client_encoding: 'UTF8',
      work_mem: '64MB',
      default_transaction_read_only: 'off',
      'myapp.tenant': '7',
    },
  );
});

test('PROTO-07b: role, session_authorization, replication and pinned settings are refused, in any case', () => {
  for (const key of [
    'role',
    'ROLE',
    'session_authorization',
    'replication',
    'local_preload_libraries',
    'session_preload_libraries',
    'is_superuser',
  ]) {
    assert.throws(
      () => upstreamParameters(params({ [key]: 'x' })),
      (err: unknown) =>
        err instanceof PgError && err.sqlstate === '08P01' && err.message.includes(key),
    );
    assert.throws(() => upstreamParameters(params({ options: `-c ${key}=x` })), PgError);
  }
});

test('PROTO-07d: options apply first, named parameters after, the last value of a setting wins', () => {
  const settings = upstreamParameters(
    params({
      options: '-c client_encoding=SQL_ASCII -c DateStyle=SQL -c datestyle=German',
      client_encoding: 'UTF8',
    }),
  );
  assert.deepEqual(Object.entries(settings), [
    ['datestyle', 'German'],
    ['client_encoding', 'UTF8'],
  ]);
});

test('PROTO-07c: options are split like pg_split_opts; only -c and -- switches pass', () => {
  assert.deepEqual(parseOptions('-c search_path=a\\ b -csearch-path=c --DateStyle=ISO'), [
    ['search_path', 'a b'],
    ['search_path', 'c'],
    ['DateStyle', 'ISO'],
  ]);
  assert.deepEqual(upstreamParameters(params({ options: '-c statement_timeout=5s' })), {
    statement_timeout: '5s',
  });
  for (const options of [
    '-c search_path=x -c role=postgres',
    '--session_authorization=postgres',
    '-c',
    '-c novalue',
    '-P',
    '-B 100',
    'search_path=x',
  ]) {
    assert.throws(() => upstreamParameters(params({ options })), PgError, options);
  }
});
