import { BadRequestException } from '@nestjs/common';

/**
 * A few hand-written checks for JSON bodies: each names the field and what
 * was expected, and unknown fields are refused so that a typo is not
 * silently ignored.
 */
export type JsonFields = Readonly<Record<string, unknown>>;

export function jsonObject(body: unknown, allowed: readonly string[]): JsonFields {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestException(
      'the body must be a JSON object (Content-Type: application/json)',
    );
  }
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw new BadRequestException(`unknown field "${key}"`);
  }
  return body as JsonFields;
}

/** Query-string parameters: none unknown, each given once (so each is a string). */
export function queryParams(query: unknown, allowed: readonly string[]): JsonFields {
  const params = (query ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(params)) {
    if (!allowed.includes(key)) throw new BadRequestException(`unknown query parameter "${key}"`);
    if (typeof value !== 'string') {
      throw new BadRequestException(`query parameter "${key}" must be given once, as text`);
    }
  }
  return params;
}

export interface StringRule {
  readonly min?: number;
  readonly max?: number;
}

export function stringField(fields: JsonFields, name: string, rule: StringRule = {}): string {
  const value = fields[name];
  const { min = 1, max = 1024 } = rule;
  if (typeof value !== 'string') throw new BadRequestException(`"${name}" must be a string`);
  if (value.length < min || value.length > max) {
    throw new BadRequestException(`"${name}" must be ${min} to ${max} characters long`);
  }
  return value;
}

/** Absent and null both mean "not given". */
export function optionalStringField(
  fields: JsonFields,
  name: string,
  rule: StringRule = {},
): string | null {
  return isAbsent(fields[name]) ? null : stringField(fields, name, rule);
}

export function enumField<T extends string>(
  fields: JsonFields,
  name: string,
  values: readonly T[],
): T {
  const value = fields[name];
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new BadRequestException(
      `"${name}" must be one of ${values.map((v) => `"${v}"`).join(', ')}`,
    );
  }
  return value as T;
}

export function optionalEnumField<T extends string>(
  fields: JsonFields,
  name: string,
  values: readonly T[],
): T | null {
  return isAbsent(fields[name]) ? null : enumField(fields, name, values);
}

export function optionalStringArrayField(
  fields: JsonFields,
  name: string,
  maxItems: number,
): string[] {
  const value = fields[name];
  if (isAbsent(value)) return [];
  if (
    !Array.isArray(value) ||
    value.length > maxItems ||
    value.some((v) => typeof v !== 'string')
  ) {
    throw new BadRequestException(`"${name}" must be an array of at most ${maxItems} strings`);
  }
  return value as string[];
}

/** An ISO 8601 timestamp with a time zone, e.g. 2030-01-01T00:00:00Z. */
export function optionalDateField(fields: JsonFields, name: string): Date | null {
  const value = fields[name];
  if (isAbsent(value)) return null;
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
  const date = typeof value === 'string' && iso.test(value) ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new BadRequestException(
      `"${name}" must be an ISO 8601 timestamp such as 2030-01-01T00:00:00Z`,
    );
  }
  return date;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}
