import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { hardenExistingDatabases } from '#engine';
import { existsSync } from 'node:fs';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { ClusterService } from '../engine/cluster.service';
import { DatabasesService } from '../identity/databases.service';
import { UsersService } from '../identity/users.service';
import { logSink } from '../logging';
import {
  forgetInitialAdminPassword,
  initialAdminPassword,
  initialAdminPasswordFile,
} from './initial-admin-password';

export const ADMIN_SLUG = 'admin';
export const ADMIN_DATABASE = 'main';

/** What the first start created, for the banner. */
export interface BootstrapOutcome {
  /** Set on the start that created `admin` with a generated password. */
  readonly generatedAdminPassword: string | undefined;
  readonly createdAdmin: boolean;
  /** Where the generated password is kept until the admin changes it, while it is. */
  readonly initialPasswordFile: string | undefined;
}

/**
 * First start: the site admin `admin` and its database `admin/main`. Later
 * starts change nothing and print no password (README, "Quick start").
 */
@Injectable()
export class BootstrapService
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly log = logSink('Bootstrap');
  outcome: BootstrapOutcome = {
    generatedAdminPassword: undefined,
    createdAdmin: false,
    initialPasswordFile: undefined,
  };
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
    const passwordFile = initialAdminPasswordFile(this.config.dataDir);
    if (!admin) {
      const configured = this.config.adminPassword;
      // A generated password is written to disk before the admin exists: a start
      // that fails after this point, or a banner nobody read, cannot lose it.
      const password = configured ?? (await initialAdminPassword(this.config.dataDir));
      admin = await this.users.createUser(ADMIN_SLUG, password, true);
      // One an earlier, failed start generated is void once the configured one is used.
      if (configured !== undefined) await forgetInitialAdminPassword(this.config.dataDir);
      this.outcome = {
        ...this.outcome,
        createdAdmin: true,
        generatedAdminPassword: configured === undefined ? password : undefined,
      };
      this.log.info(`created site admin "${ADMIN_SLUG}"`);
    }
    if (existsSync(passwordFile)) {
      this.outcome = { ...this.outcome, initialPasswordFile: passwordFile };
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
