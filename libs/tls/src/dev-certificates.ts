import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { type PemPair, createDevCa, issueDevServerCertificate } from './dev-issuer';

export interface DevCertificatePaths {
  /** The dev CA clients should trust; absent when the server pair was provided by the user. */
  caCertPath: string;
  certPath: string;
  keyPath: string;
  /** True when this call wrote a new server certificate. */
  generated: boolean;
}

const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Both or neither: a lone half of a pair means someone's files are in a state we must not guess about. */
async function pairState(certPath: string, keyPath: string): Promise<'both' | 'none'> {
  const [hasCert, hasKey] = await Promise.all([exists(certPath), exists(keyPath)]);
  if (hasCert && hasKey) return 'both';
  if (!hasCert && !hasKey) return 'none';
  const [present, missing] = hasCert ? [certPath, keyPath] : [keyPath, certPath];
  throw new Error(
    `${missing} is missing but ${present} exists; restore ${path.basename(missing)} ` +
      `or remove ${path.basename(present)} to have a new pair generated`,
  );
}

/**
 * Writes a pair with flag 'wx' (never replaces an existing file) and with the mode given at
 * creation, so the key is never readable by others, not even briefly before a chmod. The key
 * is written first and removed again if the certificate cannot be written.
 */
async function writePair(certPath: string, keyPath: string, pair: PemPair): Promise<void> {
  await fsp.writeFile(keyPath, pair.keyPem, { mode: KEY_MODE, flag: 'wx' });
  try {
    await fsp.writeFile(certPath, pair.certPem, { mode: CERT_MODE, flag: 'wx' });
  } catch (err) {
    await fsp.rm(keyPath, { force: true });
    throw err;
  }
}

/** Reuses an existing dev CA (clients may already trust it) or creates one. */
async function obtainCa(
  caCertPath: string,
  caKeyPath: string,
  log: (line: string) => void,
): Promise<PemPair> {
  if ((await pairState(caCertPath, caKeyPath)) === 'both') {
    const [certPem, keyPem] = await Promise.all([
      fsp.readFile(caCertPath, 'utf8'),
      fsp.readFile(caKeyPath, 'utf8'),
    ]);
    log(`TLS: reusing development CA ${caCertPath}`);
    return { certPem, keyPem };
  }
  const ca = await createDevCa();
  await writePair(caCertPath, caKeyPath, ca);
  log(`TLS: generated development CA ${caCertPath} (clients: sslrootcert=${caCertPath})`);
  return ca;
}

/**
 * Makes sure `dir` holds a server certificate and key. Existing server files are left alone
 * (they may be the user's own); when both are absent a development CA and a server certificate
 * for localhost/127.0.0.1/::1 signed by it are generated.
 */
export async function ensureDevCertificates(
  dir: string,
  log: (line: string) => void = () => {},
): Promise<DevCertificatePaths> {
  const caCertPath = path.join(dir, 'ca.crt');
  const caKeyPath = path.join(dir, 'ca.key');
  const certPath = path.join(dir, 'server.crt');
  const keyPath = path.join(dir, 'server.key');
  const result = { caCertPath, certPath, keyPath };

  // mode only applies to directories created here; an existing dir keeps its permissions.
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await pairState(certPath, keyPath)) === 'both') return { ...result, generated: false };

  let server: PemPair;
  try {
    server = await issueDevServerCertificate(await obtainCa(caCertPath, caKeyPath, log));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const context = `cannot issue a development server certificate from CA ${caCertPath}`;
    throw new Error(`${context}: ${reason}`, { cause: err });
  }
  await writePair(certPath, keyPath, server);
  log(`TLS: generated development server certificate ${certPath} for localhost, 127.0.0.1, ::1`);
  return { ...result, generated: true };
}
