import { Body, Controller, Delete, HttpCode, Param, Put } from '@nestjs/common';
import type { Actor } from '../../identity/actor';
import { MembershipsService, type MembershipView } from '../../identity/memberships.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { parseMemberRole } from './entities.requests';
import {
  ApiBody,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import { MemberRoleDto, MembershipDto } from './entities.dto';

@ApiTags('entities')
@Authenticated()
@Controller('entities/:org/members')
export class MembershipsController {
  constructor(private readonly memberships: MembershipsService) {}

  @Put(':user')
  @ApiOperation({ summary: 'Add a member or change their role (organization admins, site admins)' })
  @ApiBody({ type: MemberRoleDto })
  @ApiOkResponse({ type: MembershipDto })
  @ApiErrors(400, 403, 404, 409, 413)
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
  @ApiOperation({ summary: 'Remove a member (admins), or leave (the member)' })
  @ApiNoContentResponse({ description: 'Removed; their sessions that lost access end' })
  @ApiErrors(400, 403, 404, 409)
  remove(
    @CurrentActor() actor: Actor,
    @Param('org') org: string,
    @Param('user') user: string,
  ): Promise<void> {
    return this.memberships.remove(actor, org, user);
  }
}
