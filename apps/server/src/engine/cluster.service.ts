import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import path from 'node:path';
import { Client } from 'pg';
import { applyMigrations, ControlPlane } from '#control';
import {
  CONTROL_DATABASE,
  externalCluster,
  prepareCluster,
  readOrCreateSecret,
  startEmbeddedCluster,
  superuserUrl,
  type Cluster,
  type ClusterEndpoint,
} from '#engine';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { logSink } from '../logging';
import { PROJECT_ROOT } from '../project-root';
import { loadRolePasswords } from './role-passwords';

/**
 * Owns the upstream PostgreSQL (embedded or external) and the control plane
 * on it: started, hardened and migrated before anything listens, stopped
 * last.
 */
@Injectable()
export class ClusterService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = logSink('Cluster');
  private cluster: Cluster | undefined;
  private controlPlane: ControlPlane | undefined;
  private secret: Buffer | undefined;

  constructor(@Inject(POSTERN_CONFIG) private readonly config: PosternConfig) {}

  async onModuleInit(): Promise<void> {
    this.secret = Buffer.from(
      (await readOrCreateSecret(path.join(this.config.dataDir, 'secrets', 'server-secret'))).value,
      'base64url',
    );
    this.cluster = this.config.upstreamUrl
      ? externalCluster(this.config.upstreamUrl)
      : await startEmbeddedCluster(this.config.dataDir, this.log, this.config.postgres);
    // Databases that are not Postern's are left alone; the operator hears what to tighten.
    for (const note of await prepareCluster(this.cluster.endpoint)) this.log.warn(note);
    const controlUrl = superuserUrl(this.cluster.endpoint, CONTROL_DATABASE);
    const client = new Client({ connectionString: controlUrl });
    client.on('error', () => undefined); // reported by the query in flight
    await client.connect();
    try {
      await applyMigrations(client, path.join(PROJECT_ROOT, 'prisma', 'migrations'), (line) =>
        this.log.info(line),
      );
    } finally {
      await client.end();
    }
    this.controlPlane = ControlPlane.connect(
      controlUrl,
      await loadRolePasswords(this.config.dataDir),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.controlPlane?.close().catch(() => undefined);
    await this.cluster?.stop();
    this.log.info('upstream stopped');
  }

  get endpoint(): ClusterEndpoint {
    if (!this.cluster) throw new Error('cluster not started');
    return this.cluster.endpoint;
  }

  get control(): ControlPlane {
    if (!this.controlPlane) throw new Error('control plane not connected');
    return this.controlPlane;
  }

  /** A per-installation secret (mock SCRAM salts); kept in the data dir, 0600. */
  get serverSecret(): Buffer {
    if (!this.secret) throw new Error('cluster not started');
    return this.secret;
  }

  get ready(): boolean {
    return this.controlPlane !== undefined;
  }
}
