import { ACCESS_LEVELS, type GrantLevel } from '#control';
import type { NewTokenRequest } from '../../identity/tokens.service';
import {
  jsonObject,
  optionalDateField,
  optionalEnumField,
  optionalStringArrayField,
  stringField,
} from '../common/validation';

export const GRANT_LEVELS = ACCESS_LEVELS.filter((l): l is GrantLevel => l !== 'owner');

export function parseNewToken(body: unknown): NewTokenRequest {
  const fields = jsonObject(body, ['name', 'databases', 'maxLevel', 'expiresAt']);
  return {
    name: stringField(fields, 'name', { max: 100 }),
    databases: [...new Set(optionalStringArrayField(fields, 'databases', 100))],
    maxLevel: optionalEnumField(fields, 'maxLevel', GRANT_LEVELS),
    expiresAt: optionalDateField(fields, 'expiresAt'),
  };
}
