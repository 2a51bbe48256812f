import type { Command } from 'commander';
import type { AuditEvents, AuditQuery } from '../api-client';
import { api, out, positiveInteger, program, run } from '../context';

/** Live sessions and the audit log. */
export function registerActivityCommands(): void {
  const sessions = program.command('sessions').description('live wire sessions');
  sessions
    .command('list')
    .option('--user <slug>', 'only this user')
    .option('--database <owner/name>', 'only this database')
    .action(
      run(async (options: { user?: string; database?: string }) => {
        out().table(await (await api()).listSessions(options), {
          id: (s) => s.id,
          user: (s) => s.user,
          database: (s) => s.database,
          level: (s) => s.level,
          client: (s) => s.clientAddress,
          state: (s) => s.state,
          started: (s) => s.startedAt,
          query: (s) => (s.query ?? '').slice(0, 60),
        });
      }),
    );
  sessions
    .command('kill <id>')
    .description('end a session; its client gets FATAL 57P01')
    .action(
      run(async (id: string) => {
        await (await api()).killSession(id);
        out().done(`session ${id} ended`, { killed: Number(id) });
      }),
    );

  const audit = program.command('audit').description('the audit log');
  function auditFilters(command: Command): Command {
    return command
      .option('--entity <slug>', 'who acted')
      .option('--database <owner/name>', 'about this database')
      .option('--kind <kind>', 'event kind, e.g. wire.login, entity.disable')
      .option('--since <time>', 'ISO 8601')
      .option('--until <time>', 'ISO 8601');
  }
  type AuditOptions = Omit<AuditQuery, 'limit'> & { limit: number; follow?: boolean };
  const auditColumns = {
    id: (e: { id: string }) => e.id,
    at: (e: { at: string }) => e.at,
    kind: (e: { kind: string }) => e.kind,
    outcome: (e: { outcome: string }) => e.outcome,
    actor: (e: { actor?: string | null }) => e.actor,
    database: (e: { database?: string | null }) => e.database,
    detail: (e: { kind: string; detail?: Record<string, unknown> | null }) => auditDetail(e),
  };

  auditFilters(audit.command('tail'))
    .description('the latest events, oldest first; --follow keeps printing new ones')
    .option('-n, --limit <n>', 'how many', positiveInteger, 20)
    .option('-f, --follow', 'poll for new events until interrupted')
    .action(
      run(async (options: AuditOptions) => {
        const client = await api();
        const { follow, ...filter } = options;
        // Following in JSON is NDJSON, one event a line, from the first one on.
        const show = (events: AuditEvents['events']) => {
          if (follow && program.opts().json) {
            for (const e of events) process.stdout.write(JSON.stringify(e) + '\n');
          } else out().table(events, auditColumns);
        };
        let events = [...(await client.audit(filter)).events].reverse();
        show(events);
        let last = events.at(-1)?.id ?? '0';
        while (follow) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          events = [...(await client.audit({ ...filter, limit: 200 })).events]
            .filter((e) => BigInt(e.id) > BigInt(last))
            .reverse();
          if (events.length === 0) continue;
          show(events);
          last = events.at(-1)!.id;
        }
      }),
    );
  auditFilters(audit.command('filter'))
    .alias('list')
    .description('one page of events, newest first; page on with --before <next>')
    .option('-n, --limit <n>', 'page size (up to 200)', positiveInteger, 50)
    .option('--before <cursor>', 'the "next" of the previous page')
    .action(
      run(async (options: AuditOptions) => {
        const page = await (await api()).audit(options);
        if (program.opts().json) return out().record(page);
        out().table([...page.events], auditColumns);
        if (page.next) process.stderr.write(`more: --before ${page.next}\n`);
      }),
    );
}

/**
 * A statement event (`wire.query`, `http.query`) as one readable cell: its text
 * (cut at 120 characters), then rows, executions, time and SQLSTATE; other
 * events' detail as JSON.
 */
export function auditDetail(event: {
  kind: string;
  detail?: Record<string, unknown> | null;
}): unknown {
  const detail = event.detail;
  if (!detail || (event.kind !== 'wire.query' && event.kind !== 'http.query')) return detail;
  const text = String(detail.statement ?? '');
  const facts = [
    typeof detail.rowCount === 'number' ? `rows ${detail.rowCount}` : null,
    typeof detail.executions === 'number' && detail.executions !== 1
      ? `${detail.executions} executions`
      : null,
    typeof detail.durationMs === 'number' ? `${detail.durationMs} ms` : null,
    detail.sqlstate ? `SQLSTATE ${String(detail.sqlstate)}` : null,
  ].filter((fact) => fact !== null);
  const shown = text.length > 120 || detail.truncated ? `${text.slice(0, 120)}…` : text;
  return `${shown}${facts.length > 0 ? ` [${facts.join(', ')}]` : ''}`;
}
