import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Another live process holds the data directory (a gateway, or a PostgreSQL left running). */
export class DataDirInUse extends Error {}

/**
 * One gateway per data directory: `<dataDir>/postern.lock` holds the pid of the process that
 * uses it. A lock whose process is gone (a crash, a SIGKILL) is taken over. Released when the
 * process exits. Without it a second gateway would get as far as starting a second
 * PostgreSQL on the same files and fail with whatever that left behind.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, 'postern.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      const holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new DataDirInUse(
          `another Postern (pid ${holder}) is running on the data directory ${dataDir}; ` +
            'stop it first, or choose another POSTERN_DATA_DIR',
        );
      }
      unlinkSync(file);
    }
  }
  const release = () => {
    try {
      if (Number.parseInt(readFileSync(file, 'utf8'), 10) === process.pid) unlinkSync(file);
    } catch {
      // already gone
    }
  };
  process.once('exit', release);
  return () => {
    process.off('exit', release);
    release();
  };
}

/** Whether a process with this pid exists (signal 0 only checks). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
