import { BadRequestException } from '@nestjs/common';
import { MAX_PARAMETERS, type Statement } from '#engine';
import type { QueryRequest } from '../../query/http-query.service';
import { jsonObject } from '../common/validation';

/** Statements of one transaction request. */
export const MAX_TRANSACTION_STATEMENTS = 100;

/** `{sql, params?}` or `{transaction: [{sql, params?}, ...]}`. */
export function parseQueryRequest(body: unknown): QueryRequest {
  const fields = jsonObject(body, ['sql', 'params', 'transaction']);
  if (fields.transaction === undefined) {
    return { kind: 'statement', statement: parseStatement(fields, '') };
  }
  if (fields.sql !== undefined || fields.params !== undefined) {
    throw new BadRequestException('send either "sql" (and "params") or "transaction", not both');
  }
  const list = fields.transaction;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_TRANSACTION_STATEMENTS) {
    throw new BadRequestException(
      `"transaction" must be an array of 1 to ${MAX_TRANSACTION_STATEMENTS} statements`,
    );
  }
  return {
    kind: 'transaction',
    statements: list.map((item, i) =>
      parseStatement(jsonObject(item, ['sql', 'params']), `transaction[${i}].`),
    ),
  };
}

function parseStatement(fields: Readonly<Record<string, unknown>>, prefix: string): Statement {
  const sql = fields.sql;
  // Absent and null both mean "no parameters", as for every optional field.
  const params = fields.params ?? [];
  if (typeof sql !== 'string' || sql.trim() === '') {
    throw new BadRequestException(`"${prefix}sql" must be a non-empty string`);
  }
  if (sql.includes('\0')) {
    throw new BadRequestException(`"${prefix}sql" must not contain NUL characters`);
  }
  if (!Array.isArray(params) || params.length > MAX_PARAMETERS) {
    throw new BadRequestException(
      `"${prefix}params" must be an array of at most ${MAX_PARAMETERS} values`,
    );
  }
  return { sql, params };
}

/** NDJSON is chosen by asking for it; anything else (JSON, * / *, nothing) gets JSON. */
export function wantsNdjson(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some((type) => type.split(';')[0]!.trim().toLowerCase() === 'application/x-ndjson');
}
