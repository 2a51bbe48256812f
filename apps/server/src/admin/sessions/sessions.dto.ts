import { ApiProperty } from '@nestjs/swagger';

export class SessionDto {
  @ApiProperty({
    example: 1843265112,
    description: 'The backend pid the client got (BackendKeyData)',
  })
  id!: number;

  @ApiProperty({ example: 'alice' })
  user!: string;

  @ApiProperty({ example: 'acme/reports' })
  database!: string;

  @ApiProperty({ enum: ['read-only', 'read-write', 'manager', 'owner'], example: 'read-write' })
  level!: string;

  @ApiProperty({ example: '203.0.113.7' })
  clientAddress!: string;

  @ApiProperty({ example: 'psql' })
  applicationName!: string;

  @ApiProperty({ type: String, nullable: true, example: 'TLSv1.3' })
  tlsVersion!: string | null;

  @ApiProperty({
    enum: ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS', 'password'],
    example: 'SCRAM-SHA-256-PLUS',
  })
  authMethod!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'Xy12ab34Cd56',
    description: 'The API token used as the password',
  })
  tokenId!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  startedAt!: string;

  @ApiProperty({
    enum: ['idle', 'active', 'idle in transaction', 'idle in transaction (aborted)'],
    example: 'active',
  })
  state!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'SELECT count(*) FROM orders',
    description: 'The running or last statement (first 1024 characters)',
  })
  query!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  queryStartedAt!: string | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    example: 1520,
    description: 'While active: how long the statement has run',
  })
  queryDurationMs!: number | null;
}
