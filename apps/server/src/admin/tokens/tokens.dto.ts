import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';

const LEVELS = ['read-only', 'read-write', 'manager'];

export class NewTokenDto {
  @ApiProperty({ example: 'nightly report', maxLength: 100 })
  name!: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['acme/reports'],
    description: 'Limit the token to these databases (owner/name); empty or absent: all',
  })
  databases?: string[];

  @ApiPropertyOptional({
    enum: LEVELS,
    example: 'read-only',
    description: 'The highest level it acts with',
  })
  maxLevel?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', example: '2030-01-01T00:00:00Z' })
  expiresAt?: string;
}

export class TokenDto {
  @ApiProperty({ example: 'Xy12ab34Cd56' })
  id!: string;

  @ApiProperty({ example: 'nightly report' })
  name!: string;

  @ApiProperty({ type: [String], example: ['acme/reports'] })
  databases!: string[];

  @ApiProperty({ enum: LEVELS, nullable: true, example: 'read-only' })
  maxLevel!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastUsedAt!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt!: string | null;
}

/** The creation answer: the token as listed (not yet used or revoked), plus its secret. */
export class CreatedTokenDto extends OmitType(TokenDto, ['lastUsedAt', 'revokedAt'] as const) {
  @ApiProperty({
    example: 'pst_Xy12ab34Cd56_0123456789abcdefghijABCDEFGHIJ0123',
    description: 'The secret: shown only in this answer. A bearer credential and a wire password.',
  })
  token!: string;
}
