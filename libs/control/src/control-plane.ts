import { AuditRepository } from './audit.repository';
import { DatabasesRepository } from './databases.repository';
import { EntitiesRepository } from './entities.repository';
import { GrantsRepository } from './grants.repository';
import { HttpSessionsRepository } from './http-sessions.repository';
import { IdentitySnapshot } from './identity-snapshot';
import { LoginQueries } from './login-queries';
import { MembershipsRepository } from './memberships.repository';
import type { RolePasswords } from './role-passwords';
import { TokensRepository } from './tokens.repository';
import pg from 'pg';
import { createPrismaClient, type PrismaClient } from './prisma';

/** The control plane's repositories over one Prisma client. */
export class ControlPlane {
  readonly entities: EntitiesRepository;
  readonly databases: DatabasesRepository;
  readonly grants: GrantsRepository;
  readonly memberships: MembershipsRepository;
  readonly tokens: TokensRepository;
  readonly audit: AuditRepository;
  readonly httpSessions: HttpSessionsRepository;
  readonly logins: LoginQueries;
  /** Wire logins' identity data in memory, kept current by change notifications. */
  readonly identity: IdentitySnapshot;

  private constructor(
    private readonly prisma: PrismaClient,
    pool: pg.Pool,
    rolePasswords: RolePasswords,
    connectionString: string,
  ) {
    this.entities = new EntitiesRepository(prisma);
    this.databases = new DatabasesRepository(prisma, rolePasswords);
    this.grants = new GrantsRepository(prisma);
    this.memberships = new MembershipsRepository(prisma);
    this.tokens = new TokensRepository(prisma);
    this.audit = new AuditRepository(prisma, pool);
    this.httpSessions = new HttpSessionsRepository(prisma);
    this.logins = new LoginQueries(pool, rolePasswords);
    // Connects on first use: the offline CLI never logs anyone in.
    this.identity = new IdentitySnapshot(connectionString, rolePasswords);
  }

  /** `rolePasswords` gives database records the upstream passwords of their roles (stored nowhere). */
  static connect(connectionString: string, rolePasswords: RolePasswords): ControlPlane {
    const pool = new pg.Pool({ connectionString, max: 5, application_name: 'postern logins' });
    // An idle connection the server ends (restart, fast shutdown) must not end the process:
    // the pool drops it, and the next query opens a new one or fails on its own.
    pool.on('error', () => undefined);
    return new ControlPlane(
      createPrismaClient(connectionString),
      pool,
      rolePasswords,
      connectionString,
    );
  }

  async close(): Promise<void> {
    await this.identity.close();
    // Queued audit events are written before the pool they use ends.
    await this.audit.flush();
    await this.logins.close();
    await this.prisma.$disconnect();
  }
}
