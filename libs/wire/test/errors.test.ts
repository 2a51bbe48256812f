import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PgError, PgErrors, SqlState } from '#wire';

describe('PgError and PgErrors', () => {
  test('PgError defaults to FATAL and keeps optional fields absent', () => {
    const err = new PgError(SqlState.InternalError, 'boom');
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'PgError');
    assert.equal(err.severity, 'FATAL');
    assert.equal(err.sqlstate, 'XX000');
    assert.equal(err.detail, undefined);
    assert.equal(err.hint, undefined);
  });

  test('PgError options', () => {
    const err = new PgError(SqlState.ReadOnlySqlTransaction, 'read only', {
      severity: 'ERROR',
      detail: 'd',
      hint: 'h',
    });
    assert.deepEqual([err.severity, err.detail, err.hint], ['ERROR', 'd', 'h']);
  });

  test('named constructors carry the expected SQLSTATE and text', () => {
    const cases: [PgError, string, string][] = [
      [PgErrors.protocolViolation('bad'), '08P01', 'bad'],
      [PgErrors.tlsRequired('u', 'd'), '28000', 'connection requires TLS'],
      [PgErrors.invalidPassword(), '28P01', 'password authentication failed'],
      [PgErrors.databaseNotFound('nope'), '3D000', 'database "nope" does not exist'],
      [
        PgErrors.unsupportedProtocol(4, 1),
        '0A000',
        'unsupported frontend protocol 4.1: server supports 3.0 to 3.0',
      ],
      [PgErrors.startupTimeout(), '57014', 'canceling authentication due to timeout'],
      [PgErrors.tooManyConnections('too many'), '53300', 'too many'],
      [PgErrors.adminShutdown(), '57P01', 'terminating connection due to administrator command'],
      [PgErrors.connectionFailure('upstream gone'), '08006', 'upstream gone'],
    ];
    for (const [err, sqlstate, message] of cases) {
      assert.equal(err.sqlstate, sqlstate);
      assert.equal(err.message, message);
      assert.equal(err.severity, 'FATAL');
    }
  });

  test('tlsRequired hints at sslmode and names the user and database', () => {
    const err = PgErrors.tlsRequired('alice', 'app');
    assert.equal(err.hint, 'Connect with sslmode=require or stronger.');
    assert.match(err.detail ?? '', /"alice".*"app"/);
  });

  test('protocolViolation detail is optional', () => {
    assert.equal(PgErrors.protocolViolation('x').detail, undefined);
    assert.equal(PgErrors.protocolViolation('x', 'why').detail, 'why');
  });

  test('every SqlState value is a five-character code', () => {
    for (const code of Object.values(SqlState)) assert.match(code, /^[0-9A-Z]{5}$/);
  });
});
