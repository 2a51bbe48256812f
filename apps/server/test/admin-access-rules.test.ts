import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Controller,
  ForbiddenException,
  Get,
  Module,
  Type,
  UnauthorizedException,
} from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { ACCESS_RULE, Authenticated, Public } from '../src/admin/auth/access.decorators';
import { AccessGuard } from '../src/admin/auth/access.guard';
import type { AuthService } from '../src/admin/auth/auth.service';
import { AppModule } from '../src/app.module';
import { loadConfig } from '../src/config/config';

interface RouteHandler {
  readonly controller: string;
  readonly handler: string;
  readonly rule: unknown;
}

/**
 * Every route handler reachable from `root` through module imports, with its
 * access rule (method metadata first, then the controller's), read from Nest's
 * own decorator metadata: no application is started.
 */
function routeTable(root: unknown): RouteHandler[] {
  const seen = new Set<unknown>();
  const routes: RouteHandler[] = [];
  const visit = (entry: unknown) => {
    if (!entry || seen.has(entry)) return;
    seen.add(entry);
    const dynamic = entry as { module?: Type; imports?: unknown[]; controllers?: Type[] };
    const moduleClass = (dynamic.module ?? entry) as Type;
    const imports = [
      ...((Reflect.getMetadata('imports', moduleClass) as unknown[]) ?? []),
      ...(dynamic.imports ?? []),
    ];
    const controllers = [
      ...((Reflect.getMetadata('controllers', moduleClass) as Type[]) ?? []),
      ...(dynamic.controllers ?? []),
    ];
    for (const controller of controllers) routes.push(...handlersOf(controller));
    for (const imported of imports) visit(imported);
  };
  visit(root);
  return routes;
}

function handlersOf(controller: Type): RouteHandler[] {
  const handlers: RouteHandler[] = [];
  for (
    let proto = controller.prototype;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const fn = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (name === 'constructor' || typeof fn !== 'function') continue;
      if (
        Reflect.getMetadata(METHOD_METADATA, fn) === undefined &&
        Reflect.getMetadata(PATH_METADATA, fn) === undefined
      )
        continue;
      handlers.push({
        controller: controller.name,
        handler: name,
        rule: Reflect.getMetadata(ACCESS_RULE, fn) ?? Reflect.getMetadata(ACCESS_RULE, controller),
      });
    }
  }
  return handlers;
}

const unannotated = (routes: RouteHandler[]) =>
  routes.filter((r) => r.rule !== 'public' && r.rule !== 'authenticated');

describe('deny by default: every handler declares who may call it', () => {
  test('every route handler of the application declares @Public() or @Authenticated()', () => {
    const routes = routeTable(AppModule.forConfig(loadConfig({}, '/tmp')));
    const names = routes.map((r) => `${r.controller}.${r.handler}`);
    // The walk really reaches the application's controllers.
    for (const expected of [
      'HealthController.healthz',
      'HealthController.readyz',
      'AuthController.login',
      'EntitiesController.create',
      'TokensController.revoke',
      'GrantsController.put',
      'QueryController.run',
      'SessionsController.kill',
      'AuditController.list',
    ]) {
      assert.ok(names.includes(expected), `${expected} not found in ${names.join(', ')}`);
    }
    assert.deepEqual(unannotated(routes), []);
    const publicRoutes = routes
      .filter((r) => r.rule === 'public')
      .map((r) => `${r.controller}.${r.handler}`);
    assert.deepEqual(publicRoutes.sort(), [
      'AuthController.login',
      'HealthController.healthz',
      'HealthController.readyz',
    ]);
  });

  test('the walk finds an unannotated handler (the check can fail)', () => {
    @Controller('x')
    class Forgotten {
      @Get()
      open(): string {
        return 'oops';
      }

      @Public()
      @Get('fine')
      fine(): string {
        return 'ok';
      }
    }
    @Module({ controllers: [Forgotten] })
    class ForgottenModule {}
    @Module({ imports: [ForgottenModule] })
    class Root {}
    assert.deepEqual(
      unannotated(routeTable(Root)).map((r) => r.handler),
      ['open'],
    );
  });
});

describe('AccessGuard', () => {
  class Routes {
    plain(): void {}
    @Public() open(): void {}
    @Authenticated() closed(): void {}
  }
  const actor = { id: 'u1', slug: 'alice' };
  const auth = {
    authenticate: async (secret: string) => (secret === 'pss_good' ? actor : null),
  } as unknown as AuthService;
  const guard = new AccessGuard(new Reflector(), auth);
  const context = (handler: keyof Routes, headers: Record<string, string> = {}, method = 'GET') => {
    const request = { method, headers, socket: { remoteAddress: '127.0.0.1' } } as Record<
      string,
      unknown
    >;
    return {
      request,
      context: {
        getHandler: () => Routes.prototype[handler],
        getClass: () => Routes,
        switchToHttp: () => ({ getRequest: () => request }),
      } as never,
    };
  };

  test('a handler without a rule is refused, even with valid credentials', async () => {
    const { context: ctx } = context('plain', { authorization: 'Bearer pss_good' });
    await assert.rejects(guard.canActivate(ctx), ForbiddenException);
  });

  test('public passes without credentials; authenticated needs a valid one', async () => {
    assert.equal(await guard.canActivate(context('open').context), true);
    await assert.rejects(guard.canActivate(context('closed').context), UnauthorizedException);
    await assert.rejects(
      guard.canActivate(context('closed', { authorization: 'Bearer pss_bad' }).context),
      UnauthorizedException,
    );
    await assert.rejects(
      guard.canActivate(context('closed', { authorization: 'Basic abc' }).context),
      UnauthorizedException,
    );
    // The cookie carries console sessions only, never an API token.
    await assert.rejects(
      guard.canActivate(context('closed', { cookie: 'postern_session=pst_x_y' }).context),
      UnauthorizedException,
    );
    const { request, context: ctx } = context('closed', { authorization: 'Bearer pss_good' });
    assert.equal(await guard.canActivate(ctx), true);
    assert.equal(request.actor, actor);
  });

  test('a cookie-authenticated cross-site POST is refused; the same with a bearer passes', async () => {
    const cookie = 'postern_session=pss_good';
    const crossSite = { cookie, host: 'gw:8433', origin: 'https://evil.example' };
    await assert.rejects(
      guard.canActivate(context('closed', crossSite, 'POST').context),
      ForbiddenException,
    );
    assert.equal(await guard.canActivate(context('closed', crossSite, 'GET').context), true);
    const bearer = { ...crossSite, authorization: 'Bearer pss_good' };
    assert.equal(await guard.canActivate(context('closed', bearer, 'POST').context), true);
    const sameOrigin = { cookie, host: 'gw:8433', origin: 'http://gw:8433' };
    assert.equal(await guard.canActivate(context('closed', sameOrigin, 'DELETE').context), true);
  });
});
