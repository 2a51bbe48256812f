import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import type { Actor } from '../../identity/actor';
import { GrantsService, type GrantView } from '../../identity/grants.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { parseGrantLevel } from './databases.requests';

@Authenticated()
@Controller('databases/:owner/:name/grants')
export class GrantsController {
  constructor(private readonly grants: GrantsService) {}

  @Get()
  list(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
  ): Promise<GrantView[]> {
    return this.grants.list(actor, owner, name);
  }

  @Put(':entity')
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
  remove(
    @CurrentActor() actor: Actor,
    @Param('owner') owner: string,
    @Param('name') name: string,
    @Param('entity') entity: string,
  ): Promise<void> {
    return this.grants.remove(actor, owner, name, entity);
  }
}
