import { randomBytes } from 'node:crypto';

/**
 * API tokens are `pst_<id>_<secret>`: a 12-character id to find the token by,
 * and a 32-character secret (about 190 bits). Both are base62, so `_` never
 * occurs inside a part and the split is unambiguous; the whole string (49
 * characters) also fits bcrypt's 72-byte input unchanged.
 */
const PREFIX = 'pst_';
const ID_LENGTH = 12;
const SECRET_LENGTH = 32;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TOKEN_PATTERN = /^pst_([0-9A-Za-z]{12})_[0-9A-Za-z]{32}$/;
const ID_PATTERN = /^[0-9A-Za-z]{12}$/;

export interface NewApiToken {
  readonly id: string;
  readonly token: string;
}

export function newApiToken(): NewApiToken {
  const id = randomBase62(ID_LENGTH);
  return { id, token: `${PREFIX}${id}_${randomBase62(SECRET_LENGTH)}` };
}

/** The id of a well-formed token, or null. */
export function apiTokenId(token: string): string | null {
  return TOKEN_PATTERN.exec(token)?.[1] ?? null;
}

export function isApiTokenId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export function looksLikeApiToken(credential: string): boolean {
  return credential.startsWith(PREFIX);
}

/** Uniform base62: bytes of 248 and above are dropped, so `% 62` has no bias. */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}
