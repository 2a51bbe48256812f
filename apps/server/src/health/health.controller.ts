import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { Public } from '../admin/auth/access.decorators';
import { ClusterService } from '../engine/cluster.service';
import { WireServer } from '../wire/wire.server';

/** Liveness and readiness, outside the API prefix (CONTRACT.md); probes carry no credentials. */
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly cluster: ClusterService,
    private readonly wire: WireServer,
  ) {}

  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready once the wire listener, this HTTP listener and the upstream all are. */
  @Get('readyz')
  readyz(): { status: 'ready' } {
    if (!this.cluster.ready || !this.wire.ready) {
      throw new ServiceUnavailableException('starting');
    }
    return { status: 'ready' };
  }
}
