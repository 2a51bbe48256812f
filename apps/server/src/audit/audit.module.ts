import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { StatementAuditService } from './statement-audit.service';

/** Per-statement audit of wire sessions, redaction and retention of the audit log. */
@Module({
  imports: [EngineModule],
  providers: [StatementAuditService],
  exports: [StatementAuditService],
})
export class AuditModule {}
