import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import type { Actor } from '../../identity/actor';
import {
  EntitiesService,
  type EntityDetailView,
  type EntityView,
} from '../../identity/entities.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { EntityLifecycleService } from '../../identity/entity-lifecycle.service';
import {
  parseEntityDelete,
  parseEntityPatch,
  parseNewEntity,
  parsePassword,
} from './entities.requests';
import {
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import {
  EntityDetailDto,
  EntityDto,
  EntityPatchDto,
  NewEntityDto,
  PasswordDto,
} from './entities.dto';

@ApiTags('entities')
@Authenticated()
@Controller('entities')
export class EntitiesController {
  constructor(
    private readonly entities: EntitiesService,
    private readonly lifecycle: EntityLifecycleService,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Create a user (site admins) or an organization (anyone; you become its admin)',
  })
  @ApiBody({ type: NewEntityDto })
  @ApiCreatedResponse({ type: EntityDto })
  @ApiErrors(400, 403, 409, 413)
  create(@CurrentActor() actor: Actor, @Body() body: unknown): Promise<EntityView> {
    return this.entities.create(actor, parseNewEntity(body));
  }

  @Get()
  @ApiOperation({
    summary: 'Entities you can see: everyone for site admins, else yourself and your organizations',
  })
  @ApiOkResponse({ type: [EntityDto] })
  @ApiErrors(403)
  list(@CurrentActor() actor: Actor): Promise<EntityView[]> {
    return this.entities.list(actor);
  }

  @Get(':slug')
  @ApiOperation({ summary: 'One entity; organizations with their members' })
  @ApiOkResponse({ type: EntityDetailDto })
  @ApiErrors(403, 404)
  get(@CurrentActor() actor: Actor, @Param('slug') slug: string): Promise<EntityDetailView> {
    return this.entities.get(actor, slug);
  }

  @Put(':slug/password')
  @HttpCode(204)
  @ApiOperation({
    summary: "Change a user's password (the user or a site admin)",
    description: "The user's other console sessions end; API tokens stay valid.",
  })
  @ApiBody({ type: PasswordDto })
  @ApiNoContentResponse({ description: 'Changed' })
  @ApiErrors(400, 403, 404, 413)
  setPassword(
    @CurrentActor() actor: Actor,
    @Param('slug') slug: string,
    @Body() body: unknown,
  ): Promise<void> {
    return this.entities.setPassword(actor, slug, parsePassword(body));
  }

  @Patch(':slug')
  @ApiOperation({
    summary: 'Disable or enable a user or an organization (site admins)',
    description:
      'Disabling ends its wire and console sessions, stops its API tokens and suspends the ' +
      'databases it owns; the last enabled site admin cannot be disabled.',
  })
  @ApiBody({ type: EntityPatchDto })
  @ApiOkResponse({ type: EntityDto })
  @ApiErrors(400, 403, 404, 409, 413)
  update(
    @CurrentActor() actor: Actor,
    @Param('slug') slug: string,
    @Body() body: unknown,
  ): Promise<EntityView> {
    return this.lifecycle.setDisabled(actor, slug, parseEntityPatch(body).disabled);
  }

  @Delete(':slug')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete a user or an organization (site admins)',
    description:
      'Its tokens, memberships, grants and sessions go with it. Refused (409) while it owns ' +
      'databases unless reassignTo names who takes them over, while it is the only admin of an ' +
      'organization, for the last enabled site admin, and for "admin".',
  })
  @ApiQuery({
    name: 'reassignTo',
    required: false,
    description: 'user or organization that becomes the owner of its databases',
    example: 'acme',
  })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(400, 403, 404, 409)
  delete(
    @CurrentActor() actor: Actor,
    @Param('slug') slug: string,
    @Query() query: unknown,
  ): Promise<void> {
    return this.lifecycle.delete(actor, slug, parseEntityDelete(query).reassignTo);
  }
}
