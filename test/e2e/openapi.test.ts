import 'reflect-metadata';
import SwaggerParser from '@apidevtools/swagger-parser';
import { RequestMethod, type Type } from '@nestjs/common';
import {
  METHOD_METADATA,
  MODULE_PATH,
  PATH_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ACCESS_RULE } from '../../apps/server/src/admin/auth/access.decorators';
import { ADMIN_API_PREFIX, AdminModule } from '../../apps/server/src/admin/admin.module';
import { AppModule } from '../../apps/server/src/app.module';
import { loadConfig } from '../../apps/server/src/config/config';
import { PosternProcess } from '../support/postern-process';

interface Route {
  readonly name: string;
  /** OpenAPI form: `/api/v1/databases/{owner}/{name}`. */
  readonly path: string;
  readonly method: string;
  readonly authenticated: boolean;
  readonly takesBody: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/**
 * The OpenAPI document (issue 6): served at /api/docs(-json) without
 * credentials, a valid OpenAPI 3 document, and complete: every route of the
 * application (read from Nest's own metadata, not from a list kept by hand)
 * with its method, responses, error shapes, request bodies and security.
 */
describe('OpenAPI document', () => {
  let postern: PosternProcess;
  let doc: Json;

  before(async () => {
    postern = await PosternProcess.start();
    const response = await fetch(`http://127.0.0.1:${postern.httpPort}/api/docs-json`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    doc = await response.json();
  });
  after(() => postern.dispose());

  test('is a valid OpenAPI 3 document (swagger-parser)', async () => {
    assert.match(doc.openapi, /^3\.\d+\.\d+$/);
    await SwaggerParser.validate(structuredClone(doc));
    assert.equal(doc.info.title, 'Postern');
  });

  test('Swagger UI is served at /api/docs, without credentials', async () => {
    const response = await fetch(`http://127.0.0.1:${postern.httpPort}/api/docs`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /swagger-ui/);
    // Public documentation does not open the API itself.
    const api = await fetch(`http://127.0.0.1:${postern.httpPort}/api/v1/databases`);
    assert.equal(api.status, 401);
  });

  test('declares the bearer scheme (and the console cookie)', () => {
    const schemes = doc.components.securitySchemes;
    assert.equal(schemes.bearer.type, 'http');
    assert.equal(schemes.bearer.scheme, 'bearer');
    assert.deepEqual(
      { type: schemes['session-cookie'].type, in: schemes['session-cookie'].in },
      { type: 'apiKey', in: 'cookie' },
    );
  });

  test('every route of the application is documented with its method and a success answer', () => {
    const routes = applicationRoutes();
    assert.ok(routes.length >= 25, `only ${routes.length} routes found`);
    for (const route of routes) {
      const operation = doc.paths[route.path]?.[route.method];
      assert.ok(operation, `${route.name}: ${route.method.toUpperCase()} ${route.path} is missing`);
      const statuses = Object.keys(operation.responses);
      assert.ok(
        statuses.some((s) => /^2\d\d$/.test(s)),
        `${route.name}: no 2xx answer`,
      );
      assert.ok(operation.summary, `${route.name}: no summary`);
    }
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods as object).map((method) => `${method} ${path}`),
    );
    assert.deepEqual(
      documented.sort(),
      routes.map((r) => `${r.method} ${r.path}`).sort(),
      'the document lists exactly the application’s routes',
    );
  });

  test('authenticated routes require bearer (or cookie) credentials and document 401', () => {
    for (const route of applicationRoutes()) {
      const operation = doc.paths[route.path][route.method];
      const security = (operation.security ?? []) as Array<Record<string, unknown>>;
      if (route.authenticated) {
        assert.ok(
          security.some((s) => 'bearer' in s),
          `${route.name}: no bearer security`,
        );
        assert.ok('401' in operation.responses, `${route.name}: no 401`);
      } else {
        assert.deepEqual(security, [], `${route.name} is public`);
      }
    }
  });

  test('every error answer has the error shape {statusCode, error, message}', () => {
    const errorSchema = doc.components.schemas.ErrorDto;
    assert.deepEqual(errorSchema.required.sort(), ['error', 'message', 'statusCode']);
    assert.ok(doc.components.schemas.SqlErrorDto.properties.sqlstate);
    for (const route of applicationRoutes()) {
      const operation = doc.paths[route.path][route.method];
      for (const [status, response] of Object.entries(operation.responses) as Array<
        [string, Json]
      >) {
        if (!/^[45]\d\d$/.test(status)) continue;
        const ref = response.content?.['application/json']?.schema?.$ref as string | undefined;
        assert.match(
          ref ?? '',
          /\/(Sql)?ErrorDto$/,
          `${route.name} ${status}: ${JSON.stringify(response)}`,
        );
      }
    }
  });

  test('routes that take a body document it, with an example for every field', () => {
    const bodies = applicationRoutes().filter((r) => r.takesBody);
    assert.ok(bodies.length >= 9, `only ${bodies.length} routes with a body`);
    for (const route of bodies) {
      const body = doc.paths[route.path][route.method].requestBody;
      const schema = body?.content?.['application/json']?.schema;
      assert.ok(schema, `${route.name}: no request body`);
      const refs: string[] = schema.$ref ? [schema.$ref] : schema.oneOf.map((s: Json) => s.$ref);
      for (const ref of refs) {
        const component = doc.components.schemas[ref.split('/').pop()!];
        for (const [field, property] of Object.entries(component.properties) as Array<
          [string, Json]
        >) {
          assert.ok(
            property.example !== undefined || property.items?.$ref,
            `${route.name}: ${ref} field "${field}" has no example`,
          );
        }
      }
    }
  });

  test('the query endpoint documents JSON and NDJSON answers and the SQL error shape', () => {
    const query = doc.paths['/api/v1/databases/{owner}/{name}/query'].post;
    assert.deepEqual(Object.keys(query.responses['200'].content).sort(), [
      'application/json',
      'application/x-ndjson',
    ]);
    assert.match(query.responses['400'].content['application/json'].schema.$ref, /SqlErrorDto$/);
    const result = doc.components.schemas.QueryResultDto;
    assert.deepEqual(Object.keys(result.properties).sort(), [
      'command',
      'fields',
      'rowCount',
      'rows',
    ]);
  });
});

/** Every route handler reachable from AppModule, from Nest's decorator metadata. */
function applicationRoutes(): Route[] {
  const root = AppModule.forConfig(loadConfig({}, '/tmp'));
  const seen = new Set<unknown>();
  const routes: Route[] = [];
  const visit = (entry: unknown) => {
    if (!entry || seen.has(entry)) return;
    seen.add(entry);
    const dynamic = entry as { module?: Type; imports?: unknown[]; controllers?: Type[] };
    const moduleClass = (dynamic.module ?? entry) as Type;
    // RouterModule mounts AdminModule under the API prefix.
    const prefix =
      moduleClass === AdminModule
        ? ADMIN_API_PREFIX
        : ((Reflect.getMetadata(MODULE_PATH, moduleClass) as string | undefined) ?? '');
    const controllers = [
      ...((Reflect.getMetadata('controllers', moduleClass) as Type[]) ?? []),
      ...(dynamic.controllers ?? []),
    ];
    for (const controller of controllers) routes.push(...routesOf(controller, prefix));
    const imports = [
      ...((Reflect.getMetadata('imports', moduleClass) as unknown[]) ?? []),
      ...(dynamic.imports ?? []),
    ];
    for (const imported of imports) visit(imported);
  };
  visit(root);
  return routes;
}

function routesOf(controller: Type, prefix: string): Route[] {
  const base = Reflect.getMetadata(PATH_METADATA, controller) as string;
  const routes: Route[] = [];
  for (const name of Object.getOwnPropertyNames(controller.prototype)) {
    const handler = controller.prototype[name] as unknown;
    if (typeof handler !== 'function' || name === 'constructor') continue;
    const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
    if (method === undefined) continue;
    const path = Reflect.getMetadata(PATH_METADATA, handler) as string;
    const full = `/${[prefix, base, path].filter((p) => p && p !== '/').join('/')}`
      .replace(/\/+/g, '/')
      .replace(/:([A-Za-z]+)/g, '{$1}');
    const rule =
      Reflect.getMetadata(ACCESS_RULE, handler) ?? Reflect.getMetadata(ACCESS_RULE, controller);
    // Parameter decorators are recorded on the class, keyed by the method's name.
    const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as object;
    const takesBody = Object.keys(args).some((key) => key.startsWith(`${RouteParamtypes.BODY}:`));
    routes.push({
      name: `${controller.name}.${name}`,
      path: full,
      method: RequestMethod[method].toLowerCase(),
      authenticated: rule === 'authenticated',
      takesBody,
    });
  }
  return routes;
}
