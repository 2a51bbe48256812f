import { Controller, ForbiddenException, Get, Header, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import { Authenticated } from '../admin/auth/access.decorators';
import { CurrentActor } from '../admin/auth/current-actor.decorator';
import { ApiErrors } from '../admin/common/api-docs';
import type { Actor } from '../identity/actor';
import { PosternMetrics } from './metrics';

/**
 * Prometheus' scrape endpoint, outside the API prefix like /healthz. It names databases
 * (`owner/name`) in its labels, so it is for site admins: a scraper sends a site admin's
 * API token (`authorization: Bearer pst_...`; Prometheus' `authorization.credentials`).
 */
@ApiTags('metrics')
@Authenticated()
@Controller()
export class MetricsController {
  constructor(private readonly metrics: PosternMetrics) {}

  @Get('metrics')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics (postern_*), for site admins' })
  @ApiOkResponse({
    description: 'The Prometheus text exposition format, version 0.0.4',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrors(403)
  async scrape(
    @CurrentActor() actor: Actor,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<string> {
    if (!actor.isSiteAdmin) throw new ForbiddenException('metrics are for site admins');
    const { contentType, body } = await this.metrics.expose();
    res.setHeader('content-type', contentType);
    return body;
  }
}
