import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import type { PosternConfig } from '../../config/config';
import { POSTERN_CONFIG } from '../../config/config.module';
import type { Actor } from '../../identity/actor';
import { DatabaseCatalogService, type DatabaseView } from '../../identity/database-catalog.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { parseDatabaseLimits, parseNewDatabase } from './databases.requests';
import {
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import { DatabaseDto, DatabaseLimitsDto, NewDatabaseDto } from './databases.dto';

@ApiTags('databases')
@Authenticated()
@Controller('databases')
export class DatabasesController {
  constructor(
    private readonly catalog: DatabaseCatalogService,
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
  ) {}

  @Post()
  @ApiOperation({
    summary:
      'Create a database for yourself, an organization you administer, or (site admins) anyone',
  })
  @ApiBody({ type: NewDatabaseDto })
  @ApiCreatedResponse({ type: DatabaseDto })
  @ApiErrors(400, 403, 404, 409, 413)
  create(@CurrentActor() actor: Actor, @Body() body: unknown): Promise<DatabaseView> {
    const { owner, name } = parseNewDatabase(body);
    return this.catalog.create(actor, owner, name);
  }

  @Get()
  @ApiOperation({ summary: 'Databases you can see, with your level on each' })
  @ApiOkResponse({ type: [DatabaseDto] })
  list(@CurrentActor() actor: Actor): Promise<DatabaseView[]> {
    return this.catalog.list(actor);
  }

  @Get(':owner/:name')
  @ApiOperation({ summary: 'One database' })
  @ApiOkResponse({ type: DatabaseDto })
  @ApiErrors(404)
  get(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
  ): Promise<DatabaseView> {
    return this.catalog.get(actor, owner, name);
  }

  @Put(':owner/:name/limits')
  @ApiOperation({
    summary: "Set the database's guardrail overrides (owner, managers, site admins)",
  })
  @ApiBody({ type: DatabaseLimitsDto })
  @ApiOkResponse({ type: DatabaseDto })
  @ApiErrors(400, 403, 404, 413)
  setLimits(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
    @Body() body: unknown,
  ): Promise<DatabaseView> {
    return this.catalog.setLimits(
      actor,
      owner,
      name,
      parseDatabaseLimits(body, this.config.pool.size),
    );
  }

  @Delete(':owner/:name')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a database (its owner or a site admin); its live sessions end' })
  @ApiNoContentResponse({ description: 'Deleted; the name is free again' })
  @ApiErrors(403, 404)
  delete(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
  ): Promise<void> {
    return this.catalog.delete(actor, owner, name);
  }
}
