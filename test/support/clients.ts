import { spawn } from 'node:child_process';
import path from 'node:path';

export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a real client binary to completion (never through a shell). */
export function run(
  command: string,
  args: readonly string[],
  options: {
    env?: Record<string, string>;
    input?: string;
    timeoutMs?: number;
    cwd?: string;
  } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A program that exits without reading its input must not fail the caller (EPIPE).
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** psql 15 from Debian, with the password in the environment, never on argv. */
export function psql(conninfo: string, password: string, script: string): Promise<ProcessResult> {
  return run('psql', ['--no-psqlrc', '--set=ON_ERROR_STOP=1', conninfo], {
    env: { PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' },
    input: script,
  });
}

/**
 * Debian's python3 (the first python3 on PATH may be another build without
 * python3-psycopg2). The script reads its parameters from argv.
 */
export const DEBIAN_PYTHON = '/usr/bin/python3';

export function python(script: string, args: readonly string[]): Promise<ProcessResult> {
  return run(DEBIAN_PYTHON, ['-c', script, ...args]);
}

/**
 * A file under test/e2e in the repository (client programs in other languages
 * are not compiled into dist/, so tests read them from their source tree).
 */
export function e2eSource(...segments: string[]): string {
  return path.resolve(__dirname, '..', '..', '..', 'test', 'e2e', ...segments);
}
