import { Body, Controller, Delete, HttpCode, Param, Put } from '@nestjs/common';
import type { Actor } from '../../identity/actor';
import { MembershipsService, type MembershipView } from '../../identity/memberships.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { parseMemberRole } from './entities.requests';

@Authenticated()
@Controller('entities/:org/members')
export class MembershipsController {
  constructor(private readonly memberships: MembershipsService) {}

  @Put(':user')
  put(
    @CurrentActor() actor: Actor,
    @Param('org') org: string,
    @Param('user') user: string,
    @Body() body: unknown,
  ): Promise<MembershipView> {
    return this.memberships.put(actor, org, user, parseMemberRole(body));
  }

  @Delete(':user')
  @HttpCode(204)
  remove(
    @CurrentActor() actor: Actor,
    @Param('org') org: string,
    @Param('user') user: string,
  ): Promise<void> {
    return this.memberships.remove(actor, org, user);
  }
}
