import { Body, Controller, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import type { Actor } from '../../identity/actor';
import {
  EntitiesService,
  type EntityDetailView,
  type EntityView,
} from '../../identity/entities.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { parseNewEntity, parsePassword } from './entities.requests';

@Authenticated()
@Controller('entities')
export class EntitiesController {
  constructor(private readonly entities: EntitiesService) {}

  @Post()
  create(@CurrentActor() actor: Actor, @Body() body: unknown): Promise<EntityView> {
    return this.entities.create(actor, parseNewEntity(body));
  }

  @Get()
  list(@CurrentActor() actor: Actor): Promise<EntityView[]> {
    return this.entities.list(actor);
  }

  @Get(':slug')
  get(@CurrentActor() actor: Actor, @Param('slug') slug: string): Promise<EntityDetailView> {
    return this.entities.get(actor, slug);
  }

  @Put(':slug/password')
  @HttpCode(204)
  setPassword(
    @CurrentActor() actor: Actor,
    @Param('slug') slug: string,
    @Body() body: unknown,
  ): Promise<void> {
    return this.entities.setPassword(actor, slug, parsePassword(body));
  }
}
