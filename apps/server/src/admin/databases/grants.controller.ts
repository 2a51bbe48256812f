import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import type { Actor } from '../../identity/actor';
import { GrantsService, type GrantView } from '../../identity/grants.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { parseGrantLevel } from './databases.requests';
import {
  ApiBody,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import { GrantDto, GrantLevelDto } from './databases.dto';

@ApiTags('databases')
@Authenticated()
@Controller('databases/:owner/:name/grants')
export class GrantsController {
  constructor(private readonly grants: GrantsService) {}

  @Get()
  @ApiOperation({ summary: 'Who has access (owner, managers, site admins)' })
  @ApiOkResponse({ type: [GrantDto] })
  @ApiErrors(403, 404)
  list(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
  ): Promise<GrantView[]> {
    return this.grants.list(actor, owner, name);
  }

  @Put(':entity')
  @ApiOperation({
    summary: 'Grant a user or an organization a level',
    description: "Lowering a level ends the affected users' live sessions above it.",
  })
  @ApiBody({ type: GrantLevelDto })
  @ApiOkResponse({ type: GrantDto })
  @ApiErrors(400, 403, 404, 413)
  put(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
    @Param('entity') entity: string,
    @Body() body: unknown,
  ): Promise<GrantView> {
    return this.grants.put(actor, owner, name, entity, parseGrantLevel(body));
  }

  @Delete(':entity')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a grant; sessions that lost access end' })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors(403, 404)
  remove(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
    @Param('entity') entity: string,
  ): Promise<void> {
    return this.grants.remove(actor, owner, name, entity);
  }
}
