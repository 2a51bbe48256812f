import { randomBytes } from 'node:crypto';
import {
  BackendType,
  parseParameterStatus,
  parseReadyForQuery,
  type TransactionStatus,
} from '#wire';
import { serialize } from 'pg-protocol';
import { quoteLiteral } from '../provisioning/sql';
import { parseDataRow } from '../query/result-messages';
import type { UpstreamConnection } from './upstream-connection';

const FLOAT8_OID = 701;

/**
 * Re-seeds random() and reports whether the session ever had a temporary
 * schema, which DISCARD ALL empties but does not give back
 * (`pg_my_temp_schema()` stays set). The seed travels as a parameter, so
 * the statement text that `pg_stat_activity` shows to other sessions of the
 * role never contains it.
 */
const RESEED = 'SELECT pg_catalog.setseed($1), pg_catalog.pg_my_temp_schema()::pg_catalog.int8';

/**
 * `set_config` calls for a client's startup settings (the same raw string
 * semantics as a startup packet, e.g. for search_path lists).
 */
export function setConfigCalls(settings: Readonly<Record<string, string>>): string[] {
  return Object.entries(settings).map(
    ([name, value]) =>
      `pg_catalog.set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, false)`,
  );
}

export interface ResetOutcome {
  /** ParameterStatus changes the reset caused (settings back to their defaults). */
  readonly parameters: ReadonlyMap<string, string>;
  /** Idle, without error, nothing of the previous session observable: fit for the next client. */
  readonly clean: boolean;
}

/** A seed for setseed() in [-1, 1] from 48 random bits, so the next session's random() cannot be predicted. */
export function unpredictableSeed(): number {
  return (randomBytes(6).readUIntBE(0, 6) / 2 ** 48) * 2 - 1;
}

/**
 * Returns a session to a state no client chose, in one round trip:
 * `DISCARD ALL` (settings, prepared statements, cursors, temporary tables,
 * LISTENs, advisory locks, sequence state, plans, session authorization),
 * then what it leaves behind: random()'s seed, which `setseed()` fixed for
 * the next user, is drawn anew by the gateway; a session that had a
 * temporary schema is not clean (the next one would see that it exists).
 * The reseeding statement is closed again, so no unnamed statement is left.
 * `settings` (startup settings the next client is likely to ask for again,
 * the last one's) are applied in the same statement, so that a login asking
 * for exactly these needs no round trip of its own; one asking for others
 * starts with RESET ALL (the pool's applySettings).
 */
export async function resetSession(
  connection: UpstreamConnection,
  settings: Readonly<Record<string, string>> = {},
): Promise<ResetOutcome> {
  const framed = connection.framed();
  connection.sent();
  const text = [RESEED, ...setConfigCalls(settings)].join(', ');
  framed.write(
    Buffer.concat([
      serialize.query('DISCARD ALL'),
      serialize.parse({ text, types: [FLOAT8_OID] }),
      serialize.bind({ values: [String(unpredictableSeed())] }),
      serialize.execute(),
      serialize.close({ type: 'S', name: '' }),
      serialize.sync(),
    ]),
  );
  const parameters = new Map<string, string>();
  let failed = false;
  let tempSchema: string | null = null;
  let status: TransactionStatus = 'I';
  for (let ready = 0; ready < 2;) {
    const { type, body } = await framed.nextMessage();
    if (type === BackendType.ParameterStatus) {
      const [name, value] = parseParameterStatus(body);
      parameters.set(name, value);
    } else if (type === BackendType.ErrorResponse) {
      failed = true;
    } else if (type === BackendType.DataRow) {
      tempSchema = parseDataRow(body)[1] ?? null;
    } else if (type === BackendType.ReadyForQuery) {
      status = parseReadyForQuery(body);
      ready++;
      if (ready === 2) connection.ready(status);
    }
  }
  return { parameters, clean: !failed && status === 'I' && tempSchema === '0' };
}
