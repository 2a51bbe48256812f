import path from 'node:path';
import type { PosternConfig } from './config/config';
import { ADMIN_DATABASE, ADMIN_SLUG, type BootstrapOutcome } from './bootstrap/bootstrap.service';

/**
 * The ready-to-paste greeting of `npm start`. A generated admin password is
 * printed on the start that created it; its file is named until it is changed.
 */
export function banner(
  config: PosternConfig,
  ports: { wire: number; http: number },
  outcome: BootstrapOutcome,
): string {
  const host = config.host === '127.0.0.1' || config.host === '::1' ? 'localhost' : config.host;
  const caPath = path.relative(process.cwd(), path.join(config.certsDir, 'ca.crt')) || 'ca.crt';
  const sslParams =
    config.tls === 'off'
      ? 'sslmode=disable'
      : config.tlsDevCertificates
        ? `sslmode=verify-full sslrootcert=${caPath}`
        : 'sslmode=verify-full';
  const httpBase = `${config.httpTls ? 'https' : 'http'}://${config.httpHost}:${ports.http}`;
  const lines = [
    '',
    'Postern is ready.',
    `  PostgreSQL wire  ${config.host}:${ports.wire} (TLS ${config.tls})`,
    `  HTTP API         ${httpBase}/api/v1  (OpenAPI: /api/docs)`,
  ];
  if (outcome.generatedAdminPassword) {
    lines.push(
      '',
      `  Site admin "${ADMIN_SLUG}" was created with this password:`,
      `    ${outcome.generatedAdminPassword}`,
    );
  }
  if (outcome.initialPasswordFile) {
    if (!outcome.generatedAdminPassword) lines.push('');
    lines.push(
      `  The generated password of "${ADMIN_SLUG}" is kept in ${outcome.initialPasswordFile}`,
      '  (mode 0600) until it is changed; change it, and the file goes.',
    );
  }
  lines.push(
    '',
    '  Connect with psql:',
    `    psql "host=${host} port=${ports.wire} user=${ADMIN_SLUG} dbname=${ADMIN_SLUG}/${ADMIN_DATABASE} ${sslParams}"`,
    '',
    '  Log in to the HTTP API (the token it answers is the bearer for every other call):',
    `    curl -s ${httpBase}/api/v1/auth/login -H 'content-type: application/json' \\`,
    `      -d '{"username": "${ADMIN_SLUG}", "password": "..."}'`,
    '',
  );
  return lines.join('\n');
}
