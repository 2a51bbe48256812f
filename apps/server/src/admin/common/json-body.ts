import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { BadRequestException } from '@nestjs/common';
import { parse as parseLossless } from 'lossless-json';
import { jsonNestingDepth, MAX_JSON_DEPTH } from '#engine';
import type { ErrorBody } from './errors.filter';

/** The request as the JSON body parser leaves it: the body's text is kept for the query route. */
export interface JsonRequest extends IncomingMessage {
  rawJson?: Buffer;
}

/** Bodies of any route are JSON and nothing else: HTML forms and text cannot reach a handler. */
function isJson(request: IncomingMessage): boolean {
  const type = request.headers['content-type'] ?? '';
  return type.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (
    request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
  );
}

/**
 * Express middleware, before the JSON parser: a body that is not
 * `application/json` answers 415 (HARD-17). Without it a form post
 * (`curl -d 'kind=user&slug=x'`) would be parsed and acted on.
 */
export function rejectNonJsonBodies(
  request: IncomingMessage,
  response: ServerResponse,
  next: () => void,
): void {
  if (!hasBody(request) || isJson(request)) {
    next();
    return;
  }
  const body: ErrorBody = {
    statusCode: 415,
    error: STATUS_CODES[415]!,
    message: 'the body must be JSON, sent with Content-Type: application/json',
  };
  // Whatever the client still sends is not read.
  response.setHeader('connection', 'close');
  response.writeHead(415, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

/** A body parser error that ErrorsFilter answers with its status and message. */
class JsonBodyError extends Error {
  readonly status = 400;
  readonly type = 'entity.too.deep';
}

/**
 * The JSON parser's `verify` hook, given the raw bytes before they are
 * parsed: refuses bodies nested deeper than MAX_JSON_DEPTH (parsing them
 * is fine, but every later step recurses once per level), and keeps the
 * text for handlers that parse it themselves (the query route, for exact
 * numbers).
 */
export function verifyJsonBody(request: IncomingMessage, _response: unknown, raw: Buffer): void {
  if (jsonNestingDepth(raw.toString('utf8')) > MAX_JSON_DEPTH) {
    throw new JsonBodyError(`the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  (request as JsonRequest).rawJson = raw;
}

/**
 * The body parsed again with lossless-json: numbers become `LosslessNumber`s
 * holding the text as written, so SQL parameters are bound exactly
 * (`12345678901234567890`, `1e400`) instead of as the nearest double.
 * `parsed` (what the JSON parser made of it) when there was no body.
 */
export function losslessJsonBody(request: JsonRequest, parsed: unknown): unknown {
  if (!request.rawJson) return parsed;
  try {
    return parseLossless(request.rawJson.toString('utf8'));
  } catch (err) {
    // Valid for JSON.parse but not here: duplicate keys with different values.
    throw new BadRequestException(`the body is not usable JSON: ${(err as Error).message}`);
  }
}
