import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { Actor } from '../../identity/actor';
import {
  TokensService,
  type CreatedTokenView,
  type TokenView,
} from '../../identity/tokens.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { parseNewToken } from './tokens.requests';

@Authenticated()
@Controller()
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  /** The only answer that ever carries the token's secret. */
  @Post('entities/:slug/tokens')
  create(
    @CurrentActor() actor: Actor,
    @Param('slug') slug: string,
    @Body() body: unknown,
  ): Promise<CreatedTokenView> {
    return this.tokens.create(actor, slug, parseNewToken(body));
  }

  @Get('entities/:slug/tokens')
  list(@CurrentActor() actor: Actor, @Param('slug') slug: string): Promise<TokenView[]> {
    return this.tokens.list(actor, slug);
  }

  @Delete('tokens/:id')
  @HttpCode(204)
  revoke(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<void> {
    return this.tokens.revoke(actor, id);
  }
}
