import { Injectable } from '@nestjs/common';
import bcrypt from 'bcrypt';
import { DEFAULT_SCRAM_ITERATIONS, deriveScramVerifier, newScramSalt } from '#auth';
import { assertValidName, type EntitySummary } from '#control';
import { ClusterService } from '../engine/cluster.service';

/** bcrypt cost for passwords and API tokens (about 80 ms per check on this class of machine). */
export const BCRYPT_COST = 10;

@Injectable()
export class UsersService {
  constructor(private readonly cluster: ClusterService) {}

  /**
   * A user gets its SCRAM salt once, for life: the password and later every
   * API token get verifiers under it (DESIGN.md, "Logins").
   */
  async createUser(slug: string, password: string, isSiteAdmin: boolean): Promise<EntitySummary> {
    assertValidName('slug', slug);
    const salt = newScramSalt();
    const iterations = DEFAULT_SCRAM_ITERATIONS;
    return this.cluster.control.entities.createUser({
      slug,
      isSiteAdmin,
      salt,
      iterations,
      password: {
        ...deriveScramVerifier(password, salt, iterations),
        bcrypt: await bcrypt.hash(password, BCRYPT_COST),
      },
    });
  }
}
