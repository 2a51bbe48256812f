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
import {
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import { CreatedTokenDto, NewTokenDto, TokenDto } from './tokens.dto';

@ApiTags('tokens')
@Authenticated()
@Controller()
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  /** The only answer that ever carries the token's secret. */
  @Post('entities/:slug/tokens')
  @ApiOperation({
    summary: 'Create an API token (the user or a site admin)',
    description:
      'The secret is in this answer only. It works as a bearer credential and as a wire password.',
  })
  @ApiBody({ type: NewTokenDto })
  @ApiCreatedResponse({ type: CreatedTokenDto })
  @ApiErrors(400, 403, 404, 413)
  create(
    @CurrentActor() actor: Actor,
    @Param('slug') slug: string,
    @Body() body: unknown,
  ): Promise<CreatedTokenView> {
    return this.tokens.create(actor, slug, parseNewToken(body));
  }

  @Get('entities/:slug/tokens')
  @ApiOperation({ summary: "A user's API tokens, without secrets" })
  @ApiOkResponse({ type: [TokenDto] })
  @ApiErrors(400, 403, 404)
  list(@CurrentActor() actor: Actor, @Param('slug') slug: string): Promise<TokenView[]> {
    return this.tokens.list(actor, slug);
  }

  @Delete('tokens/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API token; its live wire sessions end' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrors(403, 404)
  revoke(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<void> {
    return this.tokens.revoke(actor, id);
  }
}
