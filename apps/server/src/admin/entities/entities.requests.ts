import { BadRequestException } from '@nestjs/common';
import type { MemberRole } from '#control';
import type { NewEntityRequest } from '../../identity/entities.service';
import {
  enumField,
  jsonObject,
  optionalStringField,
  queryParams,
  stringField,
} from '../common/validation';

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

/** PATCH /entities/:slug: `{"disabled": true}` or `false`, the one thing that changes. */
export function parseEntityPatch(body: unknown): { disabled: boolean } {
  const { disabled } = jsonObject(body, ['disabled']);
  if (typeof disabled !== 'boolean')
    throw new BadRequestException('"disabled" must be true or false');
  return { disabled };
}

/** DELETE /entities/:slug?reassignTo=<slug>: who takes over its databases, if anyone. */
export function parseEntityDelete(query: unknown): { reassignTo: string | null } {
  const { reassignTo } = queryParams(query, ['reassignTo']) as { reassignTo?: string };
  return { reassignTo: reassignTo ?? null };
}
