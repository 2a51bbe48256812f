import { applyDecorators } from '@nestjs/common';
import {
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import { ApiErrors, SqlErrorDto } from '../common/api-docs';
import {
  QueryResultDto,
  StatementDto,
  TransactionRequestDto,
  TransactionResultDto,
} from './query.dto';

export const NDJSON = 'application/x-ndjson';

/** The OpenAPI description of POST /databases/:owner/:name/query. */
export const QueryDocs = () =>
  applyDecorators(
    ApiExtraModels(StatementDto, TransactionRequestDto, QueryResultDto, TransactionResultDto),
    ApiOperation({
      summary: 'Run SQL on a database',
      description:
        'One statement `{sql, params}` (autocommit), or `{transaction: [...]}` in BEGIN .. COMMIT. ' +
        'Runs as the reader role for read-only access (an API token’s maxLevel applies), with the ' +
        'gateway’s guardrails. With `Accept: application/x-ndjson` a single statement streams: ' +
        '`{"fields"}`, one JSON array per row, then `{"command","rowCount"}` or `{"error"}`.',
    }),
    ApiBody({
      schema: {
        oneOf: [
          { $ref: getSchemaPath(StatementDto) },
          { $ref: getSchemaPath(TransactionRequestDto) },
        ],
      },
    }),
    ApiOkResponse({
      description: 'The result (one per statement for a transaction)',
      content: {
        'application/json': {
          schema: {
            oneOf: [
              { $ref: getSchemaPath(QueryResultDto) },
              { $ref: getSchemaPath(TransactionResultDto) },
            ],
          },
        },
        [NDJSON]: {
          schema: { type: 'string', description: 'newline-delimited JSON' },
          example:
            '{"fields":[{"name":"n","dataTypeID":23}]}\n[1]\n[2]\n{"command":"SELECT","rowCount":2}\n',
        },
      },
    }),
    ApiResponse({
      status: 400,
      description:
        'Invalid body, or the statement failed (SQL error, several statements in one, a result ' +
        'over the row/byte limit: 54000, the statement timeout: 57014)',
      type: SqlErrorDto,
    }),
    ApiResponse({
      status: 403,
      description: 'No access of the caller’s own, or PostgreSQL refused (42501, 25006 read-only)',
      type: SqlErrorDto,
    }),
    ApiResponse({
      status: 409,
      description: 'Serialization failure or deadlock (40001, 40P01): retry',
      type: SqlErrorDto,
    }),
    ApiResponse({
      status: 503,
      description: 'No upstream connection available (53300) or the session was terminated',
      type: SqlErrorDto,
    }),
    ApiErrors(404, 413),
  );
