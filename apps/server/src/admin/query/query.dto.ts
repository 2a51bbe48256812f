import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class StatementDto {
  @ApiProperty({ example: 'SELECT id, title FROM notes WHERE owner = $1 AND done = $2' })
  sql!: string;

  @ApiPropertyOptional({
    type: 'array',
    items: {},
    example: ['alice', false],
    description:
      'Bound server-side as text, never spliced into the SQL: null is NULL, booleans, ' +
      'numbers and strings their text, arrays and objects JSON text.',
  })
  params?: unknown[];
}

export class TransactionRequestDto {
  @ApiProperty({
    type: [StatementDto],
    description: 'Run in BEGIN .. COMMIT; the first error rolls everything back',
    example: [
      { sql: 'INSERT INTO notes (owner, title) VALUES ($1, $2)', params: ['alice', 'buy milk'] },
      { sql: 'UPDATE counters SET n = n + 1 WHERE name = $1', params: ['notes'] },
    ],
  })
  transaction!: StatementDto[];
}

export class FieldDto {
  @ApiProperty({ example: 'id' })
  name!: string;

  @ApiProperty({
    example: 23,
    description: 'PostgreSQL type OID (23 int4, 25 text, 3802 jsonb, ...)',
  })
  dataTypeID!: number;
}

export class QueryResultDto {
  @ApiProperty({ type: [FieldDto] })
  fields!: FieldDto[];

  @ApiProperty({
    type: 'array',
    items: { type: 'array', items: {} },
    example: [[1, 'buy milk', { tags: ['home'] }, '2024-01-02T03:04:05.123+00:00', null]],
    description:
      'One array per row. int2/int4/oid/float4/float8: numbers (NaN and ±Infinity as strings); ' +
      'int8 and numeric: strings; bool: booleans; bytea: base64; json/jsonb: parsed; ' +
      'timestamps: RFC 3339 in UTC; arrays: JSON arrays; others: PostgreSQL text; NULL: null.',
  })
  rows!: unknown[][];

  @ApiProperty({ type: String, nullable: true, example: 'SELECT' })
  command!: string | null;

  @ApiProperty({ type: Number, nullable: true, example: 1 })
  rowCount!: number | null;
}

export class TransactionResultDto {
  @ApiProperty({ type: [QueryResultDto] })
  results!: QueryResultDto[];
}
