import { ApiProperty } from '@nestjs/swagger';

export class ConsoleUserDto {
  @ApiProperty({ example: 'alice' })
  slug!: string;

  @ApiProperty()
  isSiteAdmin!: boolean;

  @ApiProperty({ example: { port: 5433, tls: true }, description: 'Where clients connect' })
  wire!: Record<string, unknown>;
}

export class ConsoleOverviewDto {
  @ApiProperty({ type: String, format: 'date-time' })
  at!: string;

  @ApiProperty({ example: 10 })
  sampleIntervalSeconds!: number;

  @ApiProperty({ example: { authenticated: 3, unauthenticated: 0 } })
  connections!: Record<string, number>;

  @ApiProperty({ example: [{ database: 'acme/reports', sessions: 2 }] })
  sessionsByDatabase!: Record<string, unknown>[];

  @ApiProperty({ example: { logins: 12, loginFailures: 1 } })
  lastHour!: Record<string, number>;

  @ApiProperty({
    example: { problem: null, busy: 1, idle: 4 },
    description: 'problem: null when new sessions can get an upstream connection, else why not',
  })
  upstream!: Record<string, unknown>;

  @ApiProperty({ example: [{ database: 'acme/reports', level: 'read-write', inUse: 1, idle: 2 }] })
  pools!: Record<string, unknown>[];

  @ApiProperty({
    description:
      'Oldest first, one point per sample: connections, sessions, logins, loginFailures, ' +
      'statementsPerSecond, statementErrors, meanLatencyMs, upstreamBusy, upstreamIdle, upstreamFailures',
    example: [
      {
        at: '2026-01-02T03:04:05.000Z',
        connections: 3,
        sessions: 3,
        logins: 1,
        loginFailures: 0,
        statementsPerSecond: 2.5,
        statementErrors: 0,
        meanLatencyMs: 1.2,
        upstreamBusy: 1,
        upstreamIdle: 4,
        upstreamFailures: 0,
      },
    ],
  })
  history!: Record<string, unknown>[];
}
