import { Injectable } from '@nestjs/common';
import { DEFAULT_SCRAM_ITERATIONS, mockScramSalt, type ScramVerifier } from '#auth';
import { ClusterService } from '../../engine/cluster.service';

/** One secret a login may prove: the password, or (later) an API token. */
export interface LoginSecret {
  readonly id: string;
  readonly verifier: ScramVerifier;
}

/**
 * What SCRAM needs to run for a user name. Unknown and disabled users get a
 * mock salt derived from the server secret and no secrets, so their exchange
 * looks like anyone else's and fails at the end (no user enumeration).
 */
export interface LoginCandidates {
  readonly userId: string | null;
  readonly salt: Buffer;
  readonly iterations: number;
  readonly secrets: readonly LoginSecret[];
}

export const PASSWORD_SECRET_ID = 'password';

@Injectable()
export class LoginService {
  constructor(private readonly cluster: ClusterService) {}

  async candidatesFor(username: string): Promise<LoginCandidates> {
    const user = await this.cluster.control.entities.findUserLogin(username);
    if (!user || user.disabled) {
      return {
        userId: null,
        salt: mockScramSalt(this.cluster.serverSecret, username),
        iterations: DEFAULT_SCRAM_ITERATIONS,
        secrets: [],
      };
    }
    return {
      userId: user.id,
      salt: user.salt,
      iterations: user.iterations,
      secrets: user.password ? [{ id: PASSWORD_SECRET_ID, verifier: user.password }] : [],
    };
  }
}
