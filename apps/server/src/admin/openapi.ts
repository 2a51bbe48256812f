import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../project-root';
import { BEARER_SCHEME, COOKIE_SCHEME } from './auth/access.decorators';
import { SESSION_COOKIE } from './auth/session-cookie';

/** Swagger UI here, the document at `${OPENAPI_PATH}-json` (README: OpenAPI at /api/docs). */
export const OPENAPI_PATH = 'api/docs';

/**
 * The OpenAPI document, generated from the controllers' decorators. It is
 * served by Swagger's own routes, outside Nest's router: the AccessGuard
 * never sees them, so they are public like /healthz (the document holds
 * no data, only the shape of the API).
 */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  const { version } = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  const config = new DocumentBuilder()
    .setTitle('Postern')
    .setDescription(
      'Admin and query API of Postern, the identity-aware PostgreSQL gateway. Log in with ' +
        'POST /api/v1/auth/login, then send `Authorization: Bearer <token>` (a session token ' +
        '`pss_...` or an API token `pst_...`). Errors are `{statusCode, error, message}`.',
    )
    .setVersion(version)
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: 'A session token (pss_...) or an API token (pst_...)',
      },
      BEARER_SCHEME,
    )
    .addCookieAuth(
      SESSION_COOKIE,
      {
        type: 'apiKey',
        in: 'cookie',
        name: SESSION_COOKIE,
        description: 'The console session cookie (same-origin requests only)',
      },
      COOKIE_SCHEME,
    )
    .build();
  return SwaggerModule.createDocument(app, config);
}

export function mountOpenApi(app: INestApplication): void {
  SwaggerModule.setup(OPENAPI_PATH, app, openApiDocument(app), {
    jsonDocumentUrl: `${OPENAPI_PATH}-json`,
    raw: ['json'],
    customSiteTitle: 'Postern API',
  });
}
