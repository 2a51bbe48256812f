import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Actor } from '../../identity/actor';
import type { ApiRequest } from '../common/http';

/** The caller AccessGuard authenticated; only on @Authenticated() routes. */
export const CurrentActor = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Actor => {
    const actor = context.switchToHttp().getRequest<ApiRequest>().actor;
    if (!actor) throw new Error('@CurrentActor() used on a route that is not @Authenticated()');
    return actor;
  },
);
