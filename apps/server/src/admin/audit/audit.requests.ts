import { BadRequestException } from '@nestjs/common';
import { isValidName, parseDatabaseReference } from '#control';
import type { AuditFilter } from '../../identity/audit-log.service';
import { optionalDateField, queryParams } from '../common/validation';

export const AUDIT_PAGE_DEFAULT = 50;
export const AUDIT_PAGE_MAX = 200;

const FILTERS = ['entity', 'database', 'kind', 'since', 'until', 'before', 'limit'];

export function parseAuditFilter(query: unknown): AuditFilter {
  const params = queryParams(query, FILTERS);
  const { entity, database, kind, before, limit } = params as Record<string, string | undefined>;
  if (entity !== undefined && !isValidName(entity)) {
    throw new BadRequestException('"entity" must be a user or organization name');
  }
  if (
    database !== undefined &&
    (!database.includes('/') || !parseDatabaseReference(database, ''))
  ) {
    throw new BadRequestException('"database" must be owner/name');
  }
  if (kind !== undefined && !/^[a-z]+(\.[a-z_-]+){0,3}$/.test(kind)) {
    throw new BadRequestException('"kind" must be an event kind such as wire.login or grant.put');
  }
  if (before !== undefined && !/^[1-9]\d{0,18}$/.test(before)) {
    throw new BadRequestException('"before" must be the "next" cursor of a previous page');
  }
  const since = optionalDateField(params, 'since') ?? undefined;
  const until = optionalDateField(params, 'until') ?? undefined;
  if (since && until && since > until)
    throw new BadRequestException('"since" must not be after "until"');
  return { entity, database, kind, since, until, before, limit: pageSize(limit) };
}

function pageSize(limit: string | undefined): number {
  if (limit === undefined) return AUDIT_PAGE_DEFAULT;
  const value = /^\d{1,3}$/.test(limit) ? Number(limit) : 0;
  if (value < 1 || value > AUDIT_PAGE_MAX) {
    throw new BadRequestException(`"limit" must be an integer from 1 to ${AUDIT_PAGE_MAX}`);
  }
  return value;
}
