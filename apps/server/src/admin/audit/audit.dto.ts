import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class AuditEventDto {
  @ApiProperty({ example: '1042', description: 'Increasing; also the paging cursor' })
  id!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  at!: string;

  @ApiProperty({
    example: 'wire.login',
    description:
      'http.login, wire.login, http.query, wire.query, entity.create, password.change, membership.put, ' +
      'membership.remove, token.create, token.revoke, database.create, database.delete, ' +
      'database.limits, grant.put, grant.remove, session.kill',
  })
  kind!: string;

  @ApiProperty({ enum: ['success', 'failure'] })
  outcome!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'alice',
    description: 'Who acted, as given (also unknown names)',
  })
  actor!: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'uuid' })
  actorId!: string | null;

  @ApiProperty({ type: String, nullable: true, example: '203.0.113.7' })
  source!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'SCRAM-SHA-256-PLUS' })
  method!: string | null;

  @ApiProperty({ type: String, nullable: true, format: 'uuid' })
  databaseId!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'acme/reports' })
  database!: string | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { tokenId: null, throttled: false, tls: true },
    description: 'Kind-specific facts; never a secret or a query parameter',
  })
  detail?: Record<string, unknown>;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEventDto], description: 'Newest first' })
  events!: AuditEventDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    example: '1001',
    description: 'Pass as "before" for older events; null on the last page',
  })
  next!: string | null;
}
