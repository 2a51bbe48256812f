import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Public } from '../admin/auth/access.decorators';
import { ErrorDto } from '../admin/common/api-docs';
import { ClusterService } from '../engine/cluster.service';
import { PoolService } from '../engine/pool.service';
import { WireServer } from '../wire/wire.server';

/** Liveness and readiness, outside the API prefix (README); probes carry no credentials. */
@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly cluster: ClusterService,
    private readonly wire: WireServer,
    private readonly pool: PoolService,
  ) {}

  @Get('healthz')
  @HttpCode(200)
  @ApiOperation({ summary: 'Liveness: 200 while the process lives' })
  @ApiOkResponse({
    schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } },
  })
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready once the wire listener, this HTTP listener and the upstream all are. */
  @Get('readyz')
  @ApiOperation({
    summary:
      'Readiness: 200 once the wire listener, HTTP and the upstream are ready and the upstream has connections to give',
  })
  @ApiOkResponse({
    schema: { type: 'object', properties: { status: { type: 'string', enum: ['ready'] } } },
  })
  @ApiServiceUnavailableResponse({
    description:
      'Still starting, the upstream PostgreSQL does not answer, the upstream connection budget is exhausted, or PostgreSQL refuses connections (too many)',
    type: ErrorDto,
  })
  async readyz(): Promise<{ status: 'ready' }> {
    if (!this.cluster.ready || !this.wire.ready) {
      throw new ServiceUnavailableException('starting');
    }
    // A round trip to the control plane's PostgreSQL, bounded so a hung upstream fails the probe.
    if (!(await this.cluster.control.logins.ping(2_000))) {
      throw new ServiceUnavailableException('the upstream PostgreSQL does not answer');
    }
    // New sessions would be refused (HARD-06): every budgeted connection is busy, or
    // PostgreSQL itself just refused one.
    const unavailable = this.pool.unavailable;
    if (unavailable) throw new ServiceUnavailableException(unavailable);
    return { status: 'ready' };
  }
}
