import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

const LIMIT = { type: Number, nullable: true, minimum: 0, maximum: 2147483647 } as const;

export class NewDatabaseDto {
  @ApiProperty({
    example: 'acme',
    description: 'Yourself, an organization you administer, or (site admins) anyone',
  })
  owner!: string;

  @ApiProperty({ example: 'reports', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' })
  name!: string;
}

export class DatabaseLimitsDto {
  @ApiPropertyOptional({
    ...LIMIT,
    example: 30000,
    description: '0: off for this database; absent or null: the global setting',
  })
  statementTimeoutMs?: number | null;

  @ApiPropertyOptional({ ...LIMIT, example: 60000 })
  idleInTransactionTimeoutMs?: number | null;

  @ApiPropertyOptional({ ...LIMIT, example: 0 })
  idleSessionTimeoutMs?: number | null;

  @ApiPropertyOptional({ ...LIMIT, example: 100000 })
  maxResultRows?: number | null;

  @ApiPropertyOptional({ ...LIMIT, example: 104857600 })
  maxResultBytes?: number | null;

  @ApiPropertyOptional({
    ...LIMIT,
    example: 20,
    description: 'Established wire sessions, all logins together',
  })
  maxConnections?: number | null;

  @ApiPropertyOptional({
    enum: ['session', 'transaction'],
    nullable: true,
    example: 'transaction',
    description:
      'session (the default): a session holds an upstream connection to its end, taken as upstreamAssignment says; transaction: only for each transaction',
  })
  poolMode?: 'session' | 'transaction' | null;

  @ApiPropertyOptional({
    enum: ['login', 'first-use'],
    nullable: true,
    example: 'first-use',
    description:
      'In session mode, when a session takes its upstream connection: login (the default; BackendKeyData carries the backend pid) or first-use (when the client first sends something: idle clients hold none, and the client is told a pid of the gateway). Transaction mode always takes one per transaction',
  })
  upstreamAssignment?: 'login' | 'first-use' | null;

  @ApiPropertyOptional({
    type: Number,
    minimum: 1,
    nullable: true,
    example: 5,
    description:
      "Pooled upstream connections per level (read-only, read-write), busy and idle, from 1 to the gateway's POSTERN_POOL_SIZE (the default); lowering it closes idle connections over it, those in use finish their lease",
  })
  poolSize?: number | null;
}

export class DatabaseDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'acme' })
  owner!: string;

  @ApiProperty({ example: 'reports' })
  name!: string;

  @ApiProperty({
    enum: ['read-only', 'read-write', 'manager', 'owner'],
    nullable: true,
    description: "The caller's effective level; null for a site admin without access of their own",
  })
  level!: string | null;

  @ApiProperty({
    type: DatabaseLimitsDto,
    description: 'Guardrail overrides (absent keys: the global setting)',
  })
  limits!: DatabaseLimitsDto;
}

export class GrantLevelDto {
  @ApiProperty({ enum: ['read-only', 'read-write', 'manager'], example: 'read-only' })
  level!: string;
}

export class GrantDto {
  @ApiProperty({ example: 'alice', description: 'A user or an organization' })
  entity!: string;

  @ApiProperty({ enum: ['read-only', 'read-write', 'manager'] })
  level!: string;
}
