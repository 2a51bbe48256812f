import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { hardenExistingDatabases } from '#engine';
import { randomBytes } from 'node:crypto';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { ClusterService } from '../engine/cluster.service';
import { DatabasesService } from '../identity/databases.service';
import { UsersService } from '../identity/users.service';
import { logSink } from '../logging';

export const ADMIN_SLUG = 'admin';
export const ADMIN_DATABASE = 'main';

/** What the first start created, for the banner (the password is shown once). */
export interface BootstrapOutcome {
  readonly generatedAdminPassword: string | undefined;
  readonly createdAdmin: boolean;
}

/**
 * First start: the site admin `admin` and its database `admin/main`. Later
 * starts change nothing and print no password (CONTRACT.md, "First start").
 */
@Injectable()
export class BootstrapService
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly log = logSink('Bootstrap');
  outcome: BootstrapOutcome = { generatedAdminPassword: undefined, createdAdmin: false };
  private hardening: Promise<void> = Promise.resolve();

  constructor(
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
    private readonly cluster: ClusterService,
    private readonly users: UsersService,
    private readonly databases: DatabasesService,
  ) {}

  async onModuleInit(): Promise<void> {
    const { entities, databases } = this.cluster.control;
    let admin = await entities.findBySlug(ADMIN_SLUG);
    if (!admin) {
      const password = this.config.adminPassword ?? randomBytes(18).toString('base64url');
      admin = await this.users.createUser(ADMIN_SLUG, password, true);
      this.outcome = {
        createdAdmin: true,
        generatedAdminPassword: this.config.adminPassword ? undefined : password,
      };
      this.log.info(`created site admin "${ADMIN_SLUG}"`);
    }
    const main = await databases.findByName(ADMIN_SLUG, ADMIN_DATABASE);
    if (!main) {
      await this.databases.createDatabase(admin.id, ADMIN_DATABASE);
      this.log.info(`created database ${ADMIN_SLUG}/${ADMIN_DATABASE}`);
    } else {
      await this.databases.ensureProvisioned(main);
    }
  }

  /**
   * Re-applies provisioning to every database in the background after
   * start: databases made by older versions, or changed by a tenant since,
   * converge without holding up readiness.
   */
  onApplicationBootstrap(): void {
    this.hardening = (async () => {
      const all = await this.cluster.control.databases.listProvisioned();
      await hardenExistingDatabases(this.cluster.endpoint, all);
      this.log.info(`re-applied provisioning to ${all.length} database(s)`);
    })().catch((err: Error) => this.log.error(`provisioning check at start: ${err.message}`));
  }

  /** The cluster must not stop under a provisioning run. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.hardening;
  }
}
