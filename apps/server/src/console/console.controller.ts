import { Controller, ForbiddenException, Get, Header, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../admin/auth/access.decorators';
import { CurrentActor } from '../admin/auth/current-actor.decorator';
import { ApiErrors } from '../admin/common/api-docs';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import type { Actor } from '../identity/actor';
import { ConsoleOverviewDto, ConsoleUserDto } from './console.dto';
import { OverviewService, type OverviewView } from './overview.service';

export interface ConsoleUserView {
  readonly slug: string;
  readonly isSiteAdmin: boolean;
  /** For the connection strings the console shows: the wire port and whether TLS is on. */
  readonly wire: { readonly port: number; readonly tls: boolean };
}

/** What the web console needs beyond the admin API: who is signed in, and the overview. */
@ApiTags('console')
@Authenticated()
@Controller('api/v1/console')
export class ConsoleController {
  constructor(
    private readonly overviews: OverviewService,
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
  ) {}

  @Get('me')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Who the credential belongs to (the console shows what they may do)' })
  @ApiOkResponse({ type: ConsoleUserDto })
  me(@CurrentActor() actor: Actor): ConsoleUserView {
    return {
      slug: actor.slug,
      isSiteAdmin: actor.isSiteAdmin,
      wire: { port: this.config.port, tls: this.config.tls !== 'off' },
    };
  }

  /** It names every database with sessions, like /metrics: for site admins. */
  @Get('overview')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Live connections, sessions, logins, statements and upstream health (site admins)',
    description: 'Current values and one point per 10 seconds over the last hour.',
  })
  @ApiOkResponse({ type: ConsoleOverviewDto })
  @ApiErrors(403)
  overview(@CurrentActor() actor: Actor): Promise<OverviewView> {
    if (!actor.isSiteAdmin) throw new ForbiddenException('the overview is for site admins');
    return this.overviews.overview();
  }
}
