import { useMe } from '../session';
import { CopyField } from './ui';

export interface ConnectionTarget {
  readonly user: string;
  readonly database: string;
  /** Shown in place of the password (the token's secret right after creating it). */
  readonly password?: string;
}

/**
 * Ready-to-paste connection strings for the clients people use. The host is the one the
 * console was opened with; the database keeps its slash (libpq and psycopg2 take it as is,
 * a JDBC URL needs it as %2F).
 */
export function connectionStrings(
  target: ConnectionTarget,
  host: string,
  port: number,
  tls: boolean,
): { psql: string; psycopg2: string; jdbc: string } {
  const password = target.password ?? '<password>';
  const ssl = tls ? ' sslmode=verify-full sslrootcert=ca.crt' : '';
  const pyssl = tls ? ', sslmode="verify-full", sslrootcert="ca.crt"' : '';
  const jdbcSsl = tls ? '&sslmode=verify-full&sslrootcert=ca.crt' : '';
  const pyq = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return {
    // Without a known password psql prompts for it.
    psql:
      (target.password ? `PGPASSWORD='${target.password.replace(/'/g, `'\\''`)}' ` : '') +
      `psql "host=${host} port=${port} user=${target.user} dbname=${target.database}${ssl}"`,
    psycopg2:
      `psycopg2.connect(host="${pyq(host)}", port=${port}, user="${pyq(target.user)}", ` +
      `password="${pyq(password)}", dbname="${pyq(target.database)}"${pyssl})`,
    jdbc:
      `jdbc:postgresql://${host}:${port}/${encodeURIComponent(target.database)}` +
      `?user=${encodeURIComponent(target.user)}` +
      (target.password ? `&password=${encodeURIComponent(target.password)}` : '') +
      jdbcSsl,
  };
}

export function ConnectionStrings({ target }: { target: ConnectionTarget }) {
  const me = useMe();
  const strings = connectionStrings(target, window.location.hostname, me.wire.port, me.wire.tls);
  return (
    <div className="connection-strings">
      <CopyField label="psql" value={strings.psql} />
      <CopyField label="psycopg2" value={strings.psycopg2} />
      <CopyField label="DBeaver / JDBC URL" value={strings.jdbc} />
      {me.wire.tls && (
        <p className="hint">
          <span className="mono">ca.crt</span> is the certificate authority of the gateway's TLS
          certificate (the development CA is in the gateway's <span className="mono">certs/</span>{' '}
          directory).
        </p>
      )}
    </div>
  );
}
