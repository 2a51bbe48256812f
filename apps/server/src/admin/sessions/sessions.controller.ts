import { Controller, Delete, Get, HttpCode, Param, Query } from '@nestjs/common';
import {
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Actor } from '../../identity/actor';
import { SessionsService, type SessionView } from '../../identity/sessions.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { ApiErrors } from '../common/api-docs';
import { SessionDto } from './sessions.dto';
import { parseSessionFilter, parseSessionId } from './sessions.requests';

@ApiTags('sessions')
@Authenticated()
@Controller('sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get()
  @ApiOperation({
    summary: 'Live wire sessions',
    description: 'Site admins see all; others their own and those on databases they own or manage.',
  })
  @ApiQuery({ name: 'user', type: String, required: false, example: 'alice' })
  @ApiQuery({ name: 'database', type: String, required: false, example: 'acme/reports' })
  @ApiOkResponse({ type: [SessionDto] })
  @ApiErrors(400)
  list(@CurrentActor() actor: Actor, @Query() query: unknown): Promise<SessionView[]> {
    return this.sessions.list(actor, parseSessionFilter(query));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'End a session',
    description:
      'The client gets FATAL 57P01 (terminating connection due to administrator command).',
  })
  @ApiNoContentResponse({ description: 'The session is ending' })
  @ApiErrors(400, 404)
  kill(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<void> {
    return this.sessions.kill(actor, parseSessionId(id));
  }
}
