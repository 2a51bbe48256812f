import { DatabasesRepository } from './databases.repository';
import { EntitiesRepository } from './entities.repository';
import { createPrismaClient, type PrismaClient } from './prisma';

/** The control plane's repositories over one Prisma client. */
export class ControlPlane {
  readonly entities: EntitiesRepository;
  readonly databases: DatabasesRepository;

  private constructor(private readonly prisma: PrismaClient) {
    this.entities = new EntitiesRepository(prisma);
    this.databases = new DatabasesRepository(prisma);
  }

  static connect(connectionString: string): ControlPlane {
    return new ControlPlane(createPrismaClient(connectionString));
  }

  async close(): Promise<void> {
    await this.prisma.$disconnect();
  }
}
