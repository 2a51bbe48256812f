import { createHmac } from 'node:crypto';

/**
 * The upstream passwords of tenant roles, derived as HMAC-SHA-256(key, role
 * name) from a key kept with the gateway's other secrets (`<data>/secrets`),
 * never in the control plane: a copy of the control plane alone logs in to
 * nothing. Provisioning and repairs set each role's password to this value,
 * so a tenant that changes its role's password is undone at the next login.
 */
export class RolePasswords {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new Error('the role password key must have at least 32 bytes');
  }

  of(role: string): string {
    return createHmac('sha256', this.key)
      .update(`postern upstream role password\0${role}`)
      .digest('base64url');
  }
}
