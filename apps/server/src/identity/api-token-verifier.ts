import type { TokenRecord } from '#control';
import { apiTokenId } from './api-token-format';
import { sha256 } from './secret-hashing';

export type StoredToken = TokenRecord & { readonly bcrypt: string };
export type TokenLookup = (id: string) => Promise<StoredToken | null>;
/** bcrypt in production; injected so tests can count the checks. */
export type SecretComparer = (secret: string, hash: string) => Promise<boolean>;

export interface VerifiedCacheLimits {
  /** How long a verified token is remembered. */
  readonly ttlMs: number;
  readonly maxEntries: number;
}

export const DEFAULT_VERIFIED_CACHE: VerifiedCacheLimits = {
  ttlMs: 5 * 60_000,
  maxEntries: 10_000,
};

/**
 * Checks the secret of a `pst_` bearer token. The id part only finds the
 * token: ids are not secrets (they appear in listings and audit events, and
 * 71 random bits cannot be enumerated), so an unknown id is refused at once,
 * without bcrypt, revealing nothing an attacker could not already know
 * (HARD-09). A known id pays one bcrypt check, only when `mayHash` allows it
 * (the caller's throttle), and a success is remembered under the SHA-256 of
 * the whole token, so a script calling again does not pay bcrypt each time.
 */
export class ApiTokenVerifier {
  /** SHA-256 (hex) of a verified token -> its id and until when it is trusted; oldest first. */
  private readonly verified = new Map<string, { tokenId: string; until: number }>();

  constructor(
    private readonly lookup: TokenLookup,
    private readonly compare: SecretComparer,
    private readonly limits: VerifiedCacheLimits = DEFAULT_VERIFIED_CACHE,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The stored token when `credential` is its exact secret, else null. The
   * caller still checks revocation, expiry and the owner, which the lookup
   * reads fresh every time.
   */
  async verify(credential: string, mayHash: () => boolean): Promise<StoredToken | null> {
    const id = apiTokenId(credential);
    const token = id ? await this.lookup(id) : null;
    if (!token) return null;
    // A hash of a 190-bit secret as the key: looking it up leaks nothing usable.
    const digest = sha256(credential).toString('hex');
    const known = this.verified.get(digest);
    if (known && known.tokenId === token.id && known.until > this.now()) return token;
    if (!mayHash()) return null;
    if (!(await this.compare(credential, token.bcrypt))) return null;
    this.remember(digest, token.id);
    return token;
  }

  /** Drops what was remembered of a token (revoked). */
  forget(tokenId: string): void {
    for (const [digest, entry] of this.verified) {
      if (entry.tokenId === tokenId) this.verified.delete(digest);
    }
  }

  get size(): number {
    return this.verified.size;
  }

  private remember(digest: string, tokenId: string): void {
    this.verified.delete(digest);
    while (this.verified.size >= this.limits.maxEntries) {
      const oldest = this.verified.keys().next();
      if (oldest.done) break;
      this.verified.delete(oldest.value);
    }
    this.verified.set(digest, { tokenId, until: this.now() + this.limits.ttlMs });
  }
}
