// Prisma CLI configuration: the JS schema engine over node-postgres, so no
// engine binaries are downloaded (DEVELOPERS.md, environment notes).
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';

// `prisma generate` reads the schema's datasource URL but never connects.
process.env.POSTERN_CONTROL_URL ??= 'postgresql://localhost/postern_control';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    const url = process.env.POSTERN_CONTROL_URL;
    if (!url) throw new Error('POSTERN_CONTROL_URL is not set');
    // allowExitOnIdle: the CLI never ends the pool, which would otherwise keep
    // `migrate deploy` alive for the pool's 10 s idle timeout.
    return new PrismaPg({ connectionString: url, allowExitOnIdle: true });
  },
});
