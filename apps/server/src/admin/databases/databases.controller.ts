import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import type { Actor } from '../../identity/actor';
import { DatabaseCatalogService, type DatabaseView } from '../../identity/database-catalog.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { parseDatabaseLimits, parseNewDatabase } from './databases.requests';

@Authenticated()
@Controller('databases')
export class DatabasesController {
  constructor(private readonly catalog: DatabaseCatalogService) {}

  @Post()
  create(@CurrentActor() actor: Actor, @Body() body: unknown): Promise<DatabaseView> {
    const { owner, name } = parseNewDatabase(body);
    return this.catalog.create(actor, owner, name);
  }

  @Get()
  list(@CurrentActor() actor: Actor): Promise<DatabaseView[]> {
    return this.catalog.list(actor);
  }

  @Get(':owner/:name')
  get(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
  ): Promise<DatabaseView> {
    return this.catalog.get(actor, owner, name);
  }

  @Put(':owner/:name/limits')
  setLimits(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
    @Body() body: unknown,
  ): Promise<DatabaseView> {
    return this.catalog.setLimits(actor, owner, name, parseDatabaseLimits(body));
  }

  @Delete(':owner/:name')
  @HttpCode(204)
  delete(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
  ): Promise<void> {
    return this.catalog.delete(actor, owner, name);
  }
}
