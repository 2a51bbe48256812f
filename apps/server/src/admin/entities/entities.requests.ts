import type { MemberRole } from '#control';
import type { NewEntityRequest } from '../../identity/entities.service';
import { enumField, jsonObject, optionalStringField, stringField } from '../common/validation';

// Lengths are checked loosely here; the services apply the real rules
// (slug syntax, password length) with their own messages.

export function parseNewEntity(body: unknown): NewEntityRequest {
  const fields = jsonObject(body, ['kind', 'slug', 'password']);
  return {
    kind: enumField(fields, 'kind', ['user', 'organization'] as const),
    slug: stringField(fields, 'slug', { max: 256 }),
    password: optionalStringField(fields, 'password', { min: 0, max: 4096 }),
  };
}

export function parsePassword(body: unknown): string {
  return stringField(jsonObject(body, ['password']), 'password', { min: 0, max: 4096 });
}

export function parseMemberRole(body: unknown): MemberRole {
  return enumField(jsonObject(body, ['role']), 'role', ['member', 'admin'] as const);
}
