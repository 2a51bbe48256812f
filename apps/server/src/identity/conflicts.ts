import { ConflictException } from '@nestjs/common';
import { isUniqueViolation } from '#control';

/**
 * Runs a create whose name may already be taken, turning the unique-key
 * violation into a 409 with a message people understand. (Checking first
 * would still race with a concurrent create.)
 */
export async function unlessTaken<T>(work: Promise<T>, message: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictException(message);
    throw err;
  }
}
