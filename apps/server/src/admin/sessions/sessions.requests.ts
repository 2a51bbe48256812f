import { BadRequestException } from '@nestjs/common';
import { isValidName, parseDatabaseReference } from '#control';
import type { SessionFilter } from '../../identity/sessions.service';
import { queryParams } from '../common/validation';

export function parseSessionFilter(query: unknown): SessionFilter {
  const params = queryParams(query, ['user', 'database']);
  const user = params.user as string | undefined;
  const database = params.database as string | undefined;
  if (user !== undefined && !isValidName(user)) {
    throw new BadRequestException('"user" must be a user name');
  }
  if (
    database !== undefined &&
    (!database.includes('/') || !parseDatabaseReference(database, ''))
  ) {
    throw new BadRequestException('"database" must be owner/name');
  }
  return { user, database };
}

/** Session ids are the gateway process ids clients got in BackendKeyData: 1 to 2^31-1. */
export function parseSessionId(id: string): number {
  const value = /^[1-9]\d{0,9}$/.test(id) ? Number(id) : 0;
  if (value < 1 || value > 2 ** 31 - 1) {
    throw new BadRequestException(
      'a session id is a positive integer (the backend pid clients see)',
    );
  }
  return value;
}
