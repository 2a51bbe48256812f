import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { findFreePort } from '#engine';

const MAIN = path.resolve(__dirname, '..', '..', 'apps', 'server', 'src', 'main.js');
export const ADMIN_PASSWORD = 'correct-horse-battery-staple';

export interface PosternOptions {
  /** Reuse the working directory (and so the data dir) of an earlier run. */
  readonly workDir?: string;
  /** Environment overrides; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Arguments to node instead of the server's main.js (e.g. the CLI's `start`). */
  readonly args?: readonly string[];
  /** In a process group of its own, as a terminal runs it, for `signalGroup` (Ctrl+C). */
  readonly detached?: boolean;
  /** Resolve as soon as the process runs, without waiting for /readyz (it may fail to start). */
  readonly noWait?: boolean;
}

/**
 * The real gateway as a child process (`node dist/apps/server/src/main.js`)
 * in a temporary working directory, on free ports, with its own embedded
 * PostgreSQL: what `npm start` runs, not an in-process imitation.
 */
export class PosternProcess {
  private output = '';
  private exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly workDir: string,
    readonly wirePort: number,
    readonly httpPort: number,
  ) {
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(options: PosternOptions = {}): Promise<PosternProcess> {
    const workDir = options.workDir ?? (await mkdtemp(path.join(tmpdir(), 'postern-e2e-')));
    // As root, PostgreSQL runs as the "postgres" OS user, which must traverse this directory.
    await chmod(workDir, 0o711);
    const wirePort = await findFreePort();
    const httpPort = await findFreePort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      POSTERN_DATA_DIR: path.join(workDir, 'data'),
      POSTERN_PORT: String(wirePort),
      POSTERN_HTTP_PORT: String(httpPort),
      POSTERN_ADMIN_PASSWORD: ADMIN_PASSWORD,
      POSTERN_LOG_LEVEL: 'warn',
      ...options.env,
    };
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    const child = spawn(process.execPath, options.args ?? [MAIN], {
      cwd: workDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    });
    const postern = new PosternProcess(child, workDir, wirePort, httpPort);
    if (!options.noWait) await postern.waitUntilReady();
    return postern;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** False once the process has exited (a crash, when nobody stopped it). */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get caFile(): string {
    return path.join(this.workDir, 'certs', 'ca.crt');
  }

  async ca(): Promise<string> {
    return readFile(this.caFile, 'utf8');
  }

  /**
   * A connected node-postgres client: `admin` on `admin/main` over TLS that
   * verifies the dev CA, unless overridden. Errors after connect are left to
   * the test (a listener is attached so an ended session cannot crash it).
   */
  async connect(overrides: pg.ClientConfig = {}): Promise<pg.Client> {
    const client = new pg.Client({
      host: 'localhost',
      port: this.wirePort,
      user: 'admin',
      password: ADMIN_PASSWORD,
      database: 'admin/main',
      ssl: { ca: await this.ca(), servername: 'localhost' },
      ...overrides,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** Everything the process printed so far (banner, logs). */
  get log(): string {
    return this.output;
  }

  /**
   * The log as text to search: each JSON log line as `[context] message`, anything else (the
   * banner) as printed.
   */
  get logMessages(): string {
    return this.output
      .split('\n')
      .map((line) => {
        if (!line.startsWith('{')) return line;
        try {
          const entry = JSON.parse(line) as { context?: string; msg?: string };
          return `[${entry.context ?? ''}] ${entry.msg ?? ''}`;
        } catch {
          return line; // the last line, still being written
        }
      })
      .join('\n');
  }

  /** psql/libpq connection string for `user` on `database`. */
  conninfo(user: string, database: string, extra = 'sslmode=verify-full'): string {
    return `host=localhost port=${this.wirePort} user=${user} dbname=${database} sslrootcert=${this.caFile} ${extra}`;
  }

  /** Stops the process with a signal and resolves with its exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }

  /**
   * Signals the whole process group, as a terminal's Ctrl+C does (needs `detached`): the
   * gateway and every process it started that stayed in its group.
   */
  signalGroup(signal: NodeJS.Signals): void {
    process.kill(-this.pid, signal);
  }

  /** The exit code, once the process has exited. */
  get exitCode(): Promise<number | null> {
    return this.exited;
  }

  /** Stops and deletes the working directory. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.workDir, { recursive: true, force: true });
  }

  async waitUntilReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) {
        throw new Error(`postern exited with ${this.child.exitCode}:\n${this.output}`);
      }
      try {
        const response = await fetch(`http://127.0.0.1:${this.httpPort}/readyz`);
        if (response.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.child.kill('SIGKILL');
    throw new Error(`postern was not ready within ${timeoutMs} ms:\n${this.output}`);
  }
}
