import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';

/*
 * OpenAPI building blocks shared by every controller. The document is
 * generated from these decorators (GET /api/docs-json), so what it says is
 * what the code declares; bodies are still validated by hand (validation.ts),
 * the DTO classes only describe them.
 */

/** The one error shape of the API (ErrorsFilter). */
export class ErrorDto {
  @ApiProperty({ example: 404 })
  statusCode!: number;

  @ApiProperty({ example: 'Not Found' })
  error!: string;

  @ApiProperty({ example: 'database "acme/reports" not found' })
  message!: string;
}

/** SQL errors add PostgreSQL's fields to the error shape. */
export class SqlErrorDto extends ErrorDto {
  @ApiProperty({
    example: '42P01',
    description: 'the SQLSTATE PostgreSQL (or a guardrail) reported',
  })
  sqlstate!: string;

  @ApiPropertyOptional({ example: 15, description: '1-based character position in the statement' })
  position?: number;

  @ApiPropertyOptional({ example: 'Key (id)=(1) already exists.' })
  detail?: string;

  @ApiPropertyOptional({ example: 'Add a LIMIT, or fetch the result in parts.' })
  hint?: string;

  @ApiPropertyOptional({
    example: 1,
    description: 'index of the failing statement of a transaction',
  })
  statement?: number;
}

const DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Invalid request; the message names the field or the problem',
  401: 'Missing, invalid or expired credentials',
  403: 'Visible but not permitted for the caller, or a cross-site request with the session cookie',
  404: 'Does not exist, or is not visible to the caller (the same answer)',
  409: 'Conflicts with an existing record',
  413: 'The body is larger than 1 MiB',
  429: 'Too many failed logins; retry after the Retry-After header',
};

/** Documents the error answers a route may give, each with the error shape. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status] ?? 'Error', type: ErrorDto }),
    ),
  );
}
