import {
  ForbiddenException,
  Injectable,
  Logger,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { sourceAddress, type ApiRequest } from '../common/http';
import { ACCESS_RULE, type AccessRule } from './access.decorators';
import { AuthService, SESSION_PREFIX } from './auth.service';
import { crossSiteRefusal, isUnsafeMethod } from './csrf';
import { readCookie, SESSION_COOKIE } from './session-cookie';

/**
 * Global: every route of the process passes here. A route without
 * @Public() or @Authenticated() is refused (deny by default); cross-site
 * unsafe requests without a bearer credential are refused (CSRF); then the
 * credential of an @Authenticated() route becomes `request.actor`.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly log = new Logger('Access');

  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (rule !== 'public' && rule !== 'authenticated') {
      this.log.error(
        `${context.getClass().name}.${context.getHandler().name} declares no access rule; refused`,
      );
      throw new ForbiddenException('access denied');
    }
    const request = context.switchToHttp().getRequest<ApiRequest>();
    const bearer = bearerCredential(request);
    if (bearer === null && isUnsafeMethod(request.method)) {
      const refusal = crossSiteRefusal({
        secFetchSite: header(request, 'sec-fetch-site'),
        origin: header(request, 'origin'),
        host: header(request, 'host'),
      });
      if (refusal) throw new ForbiddenException(refusal);
    }
    if (rule === 'public') return true;
    const secret = bearer ?? sessionFromCookie(request);
    if (!secret) throw new UnauthorizedException('authentication required');
    const actor = await this.auth.authenticate(secret, sourceAddress(request));
    if (!actor) throw new UnauthorizedException('invalid or expired credentials');
    request.actor = actor;
    return true;
  }
}

/** The token of `Authorization: Bearer <token>`; null without the header; 401 for other schemes. */
function bearerCredential(request: ApiRequest): string | null {
  const value = request.headers.authorization;
  if (value === undefined) return null;
  const match = /^Bearer +(\S+) *$/i.exec(value);
  if (!match) throw new UnauthorizedException('Authorization must be "Bearer <token>"');
  return match[1]!;
}

/** The cookie only ever carries a console session, never an API token. */
function sessionFromCookie(request: ApiRequest): string | null {
  const value = readCookie(request.headers.cookie, SESSION_COOKIE);
  return value?.startsWith(SESSION_PREFIX) ? value : null;
}

function header(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
