import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Actor } from '../../identity/actor';
import { AuditLogService, type AuditPage } from '../../identity/audit-log.service';
import { Authenticated } from '../auth/access.decorators';
import { CurrentActor } from '../auth/current-actor.decorator';
import { ApiErrors } from '../common/api-docs';
import { AuditPageDto } from './audit.dto';
import { AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX, parseAuditFilter } from './audit.requests';

@ApiTags('audit')
@Authenticated()
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditLogService) {}

  @Get()
  @ApiOperation({
    summary: 'Audit events, newest first',
    description:
      'Site admins read every event; others the events they caused and those about ' +
      'databases they own or manage.',
  })
  @ApiQuery({
    name: 'entity',
    type: String,
    required: false,
    description: 'who acted (slug)',
    example: 'alice',
  })
  @ApiQuery({ name: 'database', type: String, required: false, example: 'acme/reports' })
  @ApiQuery({ name: 'kind', type: String, required: false, example: 'wire.login' })
  @ApiQuery({
    name: 'since',
    required: false,
    schema: { type: 'string', format: 'date-time' },
    example: '2030-01-01T00:00:00Z',
  })
  @ApiQuery({
    name: 'until',
    required: false,
    schema: { type: 'string', format: 'date-time' },
    example: '2030-01-02T00:00:00Z',
  })
  @ApiQuery({
    name: 'before',
    type: String,
    required: false,
    description: 'the "next" cursor of a previous page',
  })
  @ApiQuery({
    name: 'limit',
    required: false,
    description: `1 to ${AUDIT_PAGE_MAX}, default ${AUDIT_PAGE_DEFAULT}`,
    schema: { type: 'integer', minimum: 1, maximum: AUDIT_PAGE_MAX, default: AUDIT_PAGE_DEFAULT },
  })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiErrors(400, 404)
  list(@CurrentActor() actor: Actor, @Query() query: unknown): Promise<AuditPage> {
    return this.audit.query(actor, parseAuditFilter(query));
  }
}
