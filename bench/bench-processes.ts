import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

/** USER_HZ: /proc reports CPU time in clock ticks of 1/100 s on Linux. */
const TICK_MS = 10;

function statFields(stat: string): string[] {
  // The command name (field 2) may contain spaces; everything after ") " is fixed.
  return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}

/** CPU time (user + system) of one process so far, in milliseconds. */
export async function processCpuMs(pid: number): Promise<number> {
  const fields = statFields(await readFile(`/proc/${pid}/stat`, 'utf8'));
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Resident memory of one process now, in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/**
 * CPU time of a whole PostgreSQL cluster so far, in milliseconds: the
 * postmaster, what it collected from children that exited (cutime + cstime:
 * the postmaster reaps its backends, so a backend that ended still counts),
 * and every live child.
 */
export async function clusterCpuMs(postmasterPid: number): Promise<number> {
  const own = statFields(await readFile(`/proc/${postmasterPid}/stat`, 'utf8'));
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const fields = statFields(stat);
    if (Number(fields[1]) === postmasterPid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * TICK_MS;
}

/**
 * Runs a command with its standard output thrown away (so a COPY or a large
 * result is not collected by this process) and returns the wall time.
 */
export function timeToDevNull(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const devNull = openSync('/dev/null', 'w');
    const t0 = performance.now();
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', devNull, 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(devNull);
      if (code === 0) resolve(performance.now() - t0);
      else reject(new Error(`${command} failed (${code}): ${stderr}`));
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
