import { BadRequestException } from '@nestjs/common';
import {
  DATABASE_LIMIT_KEYS,
  POOL_MODES,
  UPSTREAM_ASSIGNMENTS,
  type DatabaseLimits,
  type GrantLevel,
} from '#control';
import { enumField, jsonObject, stringField } from '../common/validation';
import { GRANT_LEVELS } from '../tokens/tokens.requests';

export function parseNewDatabase(body: unknown): { owner: string; name: string } {
  const fields = jsonObject(body, ['owner', 'name']);
  return {
    owner: stringField(fields, 'owner', { max: 256 }),
    name: stringField(fields, 'name', { max: 256 }),
  };
}

export function parseGrantLevel(body: unknown): GrantLevel {
  return enumField(jsonObject(body, ['level']), 'level', GRANT_LEVELS);
}

/**
 * `{statementTimeoutMs?, idleInTransactionTimeoutMs?, idleSessionTimeoutMs?,
 * maxResultRows?, maxResultBytes?, maxConnections?, poolMode?,
 * upstreamAssignment?}`: integers from 0 (off for this database) to
 * 2^31-1; a key left out or null uses the global setting; `poolMode` is
 * `session` (the default) or `transaction`; `upstreamAssignment` is `login`
 * (the default) or `first-use` (session mode only: transaction mode always
 * assigns per transaction); `poolSize` is an integer from 1 to
 * `maxPoolSize` (the gateway's own pool size, which a database's may only
 * lower).
 */
export function parseDatabaseLimits(body: unknown, maxPoolSize: number): DatabaseLimits {
  const fields = jsonObject(body, [
    ...DATABASE_LIMIT_KEYS,
    'poolMode',
    'upstreamAssignment',
    'poolSize',
  ]);
  const limits: Record<string, unknown> = {};
  if (fields.poolMode !== undefined && fields.poolMode !== null) {
    limits.poolMode = enumField(fields, 'poolMode', POOL_MODES);
  }
  if (fields.upstreamAssignment !== undefined && fields.upstreamAssignment !== null) {
    limits.upstreamAssignment = enumField(fields, 'upstreamAssignment', UPSTREAM_ASSIGNMENTS);
  }
  for (const key of DATABASE_LIMIT_KEYS) {
    const value = fields[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
      throw new BadRequestException(`"${key}" must be an integer from 0 to 2147483647, or null`);
    }
    limits[key] = value;
  }
  const { poolSize } = fields;
  if (poolSize !== undefined && poolSize !== null) {
    if (
      typeof poolSize !== 'number' ||
      !Number.isInteger(poolSize) ||
      poolSize < 1 ||
      poolSize > maxPoolSize
    ) {
      throw new BadRequestException(
        `"poolSize" must be an integer from 1 to ${maxPoolSize} (the gateway's pool size), or null`,
      );
    }
    limits.poolSize = poolSize;
  }
  return limits;
}
