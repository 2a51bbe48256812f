import { X509Certificate, createPrivateKey } from 'node:crypto';
import { type Stats, promises as fsp, unwatchFile, watchFile } from 'node:fs';
import tls from 'node:tls';
import { tlsServerEndPointHash } from '#auth';

/** What a new connection is served with: a context and the channel binding of its certificate. */
export interface ServedCredentials {
  readonly secureContext: tls.SecureContext;
  /** tls-server-end-point data of the context's certificate (see `tlsServerEndPoint`). */
  readonly endPoint: Buffer | null;
}

interface Credentials extends ServedCredentials {
  certBytes: Buffer;
  keyBytes: Buffer;
  certificateDer: Buffer;
}

export interface WatchOptions {
  /** fs.watchFile polling interval. Polling survives editors and tools that replace files. */
  intervalMs?: number;
  /** Quiet time before reloading, so that writing cert then key triggers one reload. */
  debounceMs?: number;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs `fn`, re-throwing a failure as "context: reason" so the message names the file. */
function explained<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Error(`${context}: ${reason(err)}`, { cause: err });
  }
}

async function readFileOrExplain(file: string, what: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    throw new Error(`cannot read TLS ${what} file ${file}: ${reason(err)}`, { cause: err });
  }
}

/** Reads and validates a pair; every failure names the offending file. */
async function readCredentials(certPath: string, keyPath: string): Promise<Credentials> {
  const [certBytes, keyBytes] = await Promise.all([
    readFileOrExplain(certPath, 'certificate'),
    readFileOrExplain(keyPath, 'key'),
  ]);
  // With a chain in the file this parses the first certificate: the leaf OpenSSL serves.
  const x509 = explained(
    `TLS certificate file ${certPath} holds no readable certificate`,
    () => new X509Certificate(certBytes),
  );
  const key = explained(
    `TLS key file ${keyPath} holds no usable private key (encrypted keys are not supported)`,
    () => createPrivateKey(keyBytes),
  );
  if (!x509.checkPrivateKey(key)) {
    throw new Error(`TLS key file ${keyPath} does not match certificate file ${certPath}`);
  }
  const secureContext = explained(`cannot use TLS files ${certPath} and ${keyPath}`, () =>
    tls.createSecureContext({ cert: certBytes, key: keyBytes, minVersion: 'TLSv1.2' }),
  );
  const certificateDer = x509.raw;
  return {
    certBytes,
    keyBytes,
    secureContext,
    certificateDer,
    endPoint: explained(`TLS certificate file ${certPath}`, () =>
      tlsServerEndPointHash(certificateDer),
    ),
  };
}

/**
 * The gateway's current server credentials. Callers should read `secureContext` (and the
 * channel-binding data) per connection so that a reload applies to new connections while
 * established ones keep the credentials they negotiated with.
 */
export class CertificateStore {
  // Serialises reloads so a slow read cannot overwrite the result of a newer one.
  private reloading: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly certPath: string,
    readonly keyPath: string,
    private current: Credentials,
  ) {}

  static async load(certPath: string, keyPath: string): Promise<CertificateStore> {
    return new CertificateStore(certPath, keyPath, await readCredentials(certPath, keyPath));
  }

  /**
   * The context and its channel-binding data read together, so that a
   * reload cannot come between them: a connection handshaken with this
   * context binds to this hash, computed once per certificate rather than
   * from the peer certificate per login.
   */
  get served(): ServedCredentials {
    return this.current;
  }

  /** Server context, TLS 1.2 minimum. */
  get secureContext(): tls.SecureContext {
    return this.current.secureContext;
  }

  /** DER of the leaf certificate. Shared buffer: do not mutate. */
  get certificateDer(): Buffer {
    return this.current.certificateDer;
  }

  /**
   * RFC 5929 tls-server-end-point data for SCRAM-SHA-256-PLUS (libs/auth
   * picks the hash), or null when the signature algorithm has no defined
   * binding (Ed25519, ...): TLS works, PLUS is not offered. Shared buffer.
   */
  get tlsServerEndPoint(): Buffer | null {
    return this.current.endPoint;
  }

  /**
   * Re-reads both files. Resolves true when new credentials were installed, false when the
   * files are byte-for-byte unchanged; rejects with the reason when they are unusable, in which
   * case the previous credentials stay in service.
   */
  reload(): Promise<boolean> {
    const next = this.reloading.then(async () => {
      const fresh = await readCredentials(this.certPath, this.keyPath);
      const unchanged =
        fresh.certBytes.equals(this.current.certBytes) &&
        fresh.keyBytes.equals(this.current.keyBytes);
      if (!unchanged) this.current = fresh;
      return !unchanged;
    });
    this.reloading = next.catch(() => undefined);
    return next;
  }

  /**
   * Polls both files and reloads after they change. `onReload()` runs after new credentials
   * were installed, `onReload(err)` when the changed files could not be used (the old ones
   * are kept). The watcher does not keep the process alive. Returns the unsubscribe function.
   */
  watch(onReload: (err?: Error) => void, options: WatchOptions = {}): () => void {
    const { intervalMs = 1000, debounceMs = 200 } = options;
    let timer: NodeJS.Timeout | undefined;
    let active = true;
    const listener = (curr: Stats, prev: Stats): void => {
      const changed =
        curr.mtimeMs !== prev.mtimeMs || curr.ino !== prev.ino || curr.size !== prev.size;
      if (!changed) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.reload().then(
          (installed) => active && installed && onReload(),
          (err: unknown) => active && onReload(err instanceof Error ? err : new Error(reason(err))),
        );
      }, debounceMs);
      timer.unref();
    };
    const watchOptions = { interval: intervalMs, persistent: false };
    watchFile(this.certPath, watchOptions, listener);
    watchFile(this.keyPath, watchOptions, listener);
    return () => {
      active = false;
      clearTimeout(timer);
      unwatchFile(this.certPath, listener);
      unwatchFile(this.keyPath, listener);
    };
  }
}
