import {
  Catch,
  HttpException,
  Logger,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { STATUS_CODES } from 'node:http';
import { InvalidNameError, isUniqueViolation } from '#control';
import { SqlErrorException } from '../../query/sql-error.exception';
import { TooManyRequestsException } from './too-many-requests.exception';

/** The one error shape of the HTTP API (README, "HTTP API"). */
export interface ErrorBody {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
}

/**
 * Every error, on every route, answers `{statusCode, error, message}`.
 * Anything unexpected is logged with its stack and answered with a generic
 * 500: internal messages (SQL, paths) never reach the client.
 */
@Catch()
export class ErrorsFilter implements ExceptionFilter {
  private readonly log = new Logger('Http');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { httpAdapter } = this.adapterHost;
    const response = host.switchToHttp().getResponse<unknown>();
    const { statusCode, message } = this.describe(exception);
    if (exception instanceof TooManyRequestsException) {
      httpAdapter.setHeader(response, 'Retry-After', String(exception.retryAfterSeconds));
    }
    if (statusCode === 401) httpAdapter.setHeader(response, 'WWW-Authenticate', 'Bearer');
    const body: ErrorBody = { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
    // SQL errors of the query endpoint add sqlstate, position, detail, hint.
    const sql = exception instanceof SqlErrorException ? exception.body() : {};
    httpAdapter.reply(response, { ...sql, ...body }, statusCode);
  }

  private describe(exception: unknown): { statusCode: number; message: string } {
    if (exception instanceof HttpException) {
      return { statusCode: exception.getStatus(), message: httpExceptionMessage(exception) };
    }
    if (exception instanceof InvalidNameError) {
      return { statusCode: 400, message: exception.message };
    }
    if (isUniqueViolation(exception)) {
      return { statusCode: 409, message: 'a record with this name already exists' };
    }
    const parser = bodyParserError(exception);
    if (parser) return parser;
    const err = exception as Error;
    this.log.error(`unhandled error: ${err?.stack ?? String(exception)}`);
    return { statusCode: 500, message: 'internal server error' };
  }
}

function httpExceptionMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : exception.message;
}

/**
 * Errors of Express's JSON body parser (http-errors objects with a `type`);
 * Nest itself already turns malformed JSON into a 400.
 */
function bodyParserError(exception: unknown): { statusCode: number; message: string } | null {
  const { type } = (exception ?? {}) as { type?: unknown };
  if (type === 'entity.too.large')
    return { statusCode: 413, message: 'the body is larger than 1 MiB' };
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return { statusCode: 415, message: 'the body must be UTF-8 JSON' };
  }
  // verifyJsonBody's refusal; its message is ours, never internal.
  if (type === 'entity.too.deep') return { statusCode: 400, message: (exception as Error).message };
  return null;
}
