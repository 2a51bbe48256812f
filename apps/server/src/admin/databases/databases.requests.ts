import type { GrantLevel } from '#control';
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
