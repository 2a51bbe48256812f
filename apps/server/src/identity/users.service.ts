import { BadRequestException, Injectable } from '@nestjs/common';
import { DEFAULT_SCRAM_ITERATIONS, deriveScramVerifier, newScramSalt, safeEqual } from '#auth';
import {
  assertValidName,
  type ControlPlane,
  type EntityRecord,
  type PasswordRecord,
} from '#control';
import { ClusterService } from '../engine/cluster.service';
import { compareSecret, hashSecret } from './secret-hashing';

export { BCRYPT_COST } from './secret-hashing';

export const PASSWORD_MIN_LENGTH = 8;
/** Bounds the work a single login can cause (PBKDF2 and bcrypt over the input). */
export const PASSWORD_MAX_LENGTH = 1024;
/** bcrypt reads only this many bytes of its input. */
const BCRYPT_MAX_BYTES = 72;

export type PasswordCheck =
  | { readonly ok: true; readonly user: { id: string; slug: string } }
  | {
      readonly ok: false;
      readonly reason: 'unknown-user' | 'no-password' | 'wrong-password' | 'disabled';
    };

@Injectable()
export class UsersService {
  constructor(private readonly cluster: ClusterService) {}

  /**
   * A user gets its SCRAM salt once, for life: the password and later every
   * API token get verifiers under it (docs/architecture.md, "Identity"). A user created
   * without a password logs in with API tokens only.
   */
  async createUser(
    slug: string,
    password: string | null,
    isSiteAdmin: boolean,
  ): Promise<EntityRecord> {
    assertValidName('slug', slug);
    if (password !== null) assertAcceptablePassword(password);
    const salt = newScramSalt();
    const iterations = DEFAULT_SCRAM_ITERATIONS;
    return this.cluster.control.entities.createUser({
      slug,
      isSiteAdmin,
      salt,
      iterations,
      password: password === null ? null : await passwordRecord(password, salt, iterations),
    });
  }

  /** New password secrets under the user's existing salt, which never changes. */
  async setPassword(slug: string, password: string): Promise<void> {
    await setUserPassword(this.cluster.control, slug, password);
  }

  /**
   * Unknown users still cost one bcrypt comparison, and the disabled flag is
   * looked at only after it, so the answer time tells nothing about which
   * names exist.
   */
  async checkPassword(slug: string, password: string): Promise<PasswordCheck> {
    const user = await this.cluster.control.entities.findUserCredentials(slug);
    const matches = await compareSecret(password, user?.bcrypt ?? null);
    if (!user) return { ok: false, reason: 'unknown-user' };
    if (!user.bcrypt || !user.password) return { ok: false, reason: 'no-password' };
    if (!matches || !this.longPasswordMatches(password, user)) {
      return { ok: false, reason: 'wrong-password' };
    }
    if (user.disabled) return { ok: false, reason: 'disabled' };
    return { ok: true, user: { id: user.id, slug: user.slug } };
  }

  /**
   * bcrypt ignores everything past 72 bytes, so for longer passwords the
   * SCRAM verifier (which covers the whole password) must agree as well.
   */
  private longPasswordMatches(
    password: string,
    user: { salt: Buffer; iterations: number; password: { storedKey: Buffer } | null },
  ): boolean {
    if (Buffer.byteLength(password) <= BCRYPT_MAX_BYTES) return true;
    const derived = deriveScramVerifier(password, user.salt, user.iterations);
    return user.password !== null && safeEqual(derived.storedKey, user.password.storedKey);
  }
}

/**
 * The one way a password changes, for the API and for the offline
 * `postern admin reset-password` alike: new SCRAM verifier and bcrypt hash
 * under the user's lifelong salt; the cleartext goes nowhere else.
 */
export async function setUserPassword(
  control: ControlPlane,
  slug: string,
  password: string,
): Promise<void> {
  assertAcceptablePassword(password);
  const user = await control.entities.findUserLogin(slug);
  if (!user) throw new BadRequestException(`"${slug}" is not a user`);
  const record = await passwordRecord(password, user.salt, user.iterations);
  await control.entities.setPassword(user.id, record);
}

export function assertAcceptablePassword(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new BadRequestException(
      `password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters long`,
    );
  }
}

async function passwordRecord(
  password: string,
  salt: Buffer,
  iterations: number,
): Promise<PasswordRecord> {
  return {
    ...deriveScramVerifier(password, salt, iterations),
    bcrypt: await hashSecret(password),
  };
}
