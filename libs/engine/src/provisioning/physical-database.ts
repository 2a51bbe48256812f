import { randomBytes } from 'node:crypto';

/** The upstream names and role passwords of one tenant database. */
export interface PhysicalDatabase {
  readonly physicalName: string;
  readonly writer: { readonly role: string; readonly password: string };
  readonly reader: { readonly role: string; readonly password: string };
}

export const CONTROL_DATABASE = 'postern_control';

/**
 * Databases of the cluster itself, closed to PUBLIC: tenant roles reach only
 * their own database.
 */
export const SYSTEM_DATABASES: readonly string[] = [
  'postgres',
  'template0',
  'template1',
  CONTROL_DATABASE,
];

/** Names `newPhysicalDatabase` hands out; cluster-wide hardening finds tenant roles by them. */
export const TENANT_ROLE_PATTERN = '^pdb_[0-9a-f]{16}_(writer|reader)$';

/** Names of tenant databases (`newPhysicalDatabase`); anything else on the cluster is not Postern's. */
export const TENANT_DATABASE_PATTERN = '^pdb_[0-9a-f]{16}$';

/** Fresh physical names for a new tenant database: opaque, never the tenant's words. */
export function newPhysicalDatabase(): PhysicalDatabase {
  const id = randomBytes(8).toString('hex');
  const secret = () => randomBytes(24).toString('base64url');
  return {
    physicalName: `pdb_${id}`,
    writer: { role: `pdb_${id}_writer`, password: secret() },
    reader: { role: `pdb_${id}_reader`, password: secret() },
  };
}
