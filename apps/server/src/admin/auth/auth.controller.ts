import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Actor } from '../../identity/actor';
import { isSecure, sourceAddress, type ApiRequest } from '../common/http';
import { jsonObject, stringField } from '../common/validation';
import { Authenticated, Public } from './access.decorators';
import { AuthService, SESSION_TTL_SECONDS, type NewSession } from './auth.service';
import { CurrentActor } from './current-actor.decorator';
import { clearedSessionCookie, sessionCookie } from './session-cookie';
import {
  ApiBody,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import { LoginDto, SessionTokenDto } from './auth.dto';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  /** The token comes back in the body (scripts) and as an HttpOnly cookie (console). */
  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Log in with a password',
    description:
      'Answers a session token (12 h) and sets it as an HttpOnly, SameSite=Strict cookie.',
  })
  @ApiBody({ type: LoginDto })
  @ApiOkResponse({ type: SessionTokenDto })
  @ApiErrors(400, 401, 403, 413, 429)
  async login(
    @Body() body: unknown,
    @Req() request: ApiRequest,
    @Res({ passthrough: true }) response: ServerResponse,
  ): Promise<NewSession> {
    const fields = jsonObject(body, ['username', 'password']);
    const session = await this.auth.login(
      stringField(fields, 'username', { max: 256 }),
      stringField(fields, 'password', { max: 1024 }),
      sourceAddress(request),
    );
    response.setHeader(
      'Set-Cookie',
      sessionCookie(session.token, SESSION_TTL_SECONDS, isSecure(request)),
    );
    return session;
  }

  @Authenticated()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'End the console session the call came with' })
  @ApiNoContentResponse({ description: 'Logged out; the cookie is cleared' })
  async logout(
    @CurrentActor() actor: Actor,
    @Req() request: ApiRequest,
    @Res({ passthrough: true }) response: ServerResponse,
  ): Promise<void> {
    await this.auth.logout(actor);
    response.setHeader('Set-Cookie', clearedSessionCookie(isSecure(request)));
  }
}
