import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

/** A console session from `postern login`, per server URL. */
interface StoredSession {
  readonly user: string;
  readonly token: string;
  readonly expiresAt: string;
}

type SessionFile = Record<string, StoredSession>;

/** `$XDG_CONFIG_HOME/postern/sessions.json` (or `~/.config/...`), mode 0600 in a 0700 directory. */
export function sessionFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(homedir(), '.config');
  return path.join(base, 'postern', 'sessions.json');
}

async function readSessions(file: string): Promise<SessionFile> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SessionFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Written to a private temporary file first and renamed: never readable by others, never half-written. */
async function writeSessions(file: string, sessions: SessionFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  if (Object.keys(sessions).length === 0) {
    await rm(file, { force: true });
    return;
  }
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(sessions, null, 2) + '\n', { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

export async function storeSession(url: string, session: StoredSession): Promise<string> {
  const file = sessionFilePath();
  await writeSessions(file, { ...(await readSessions(file)), [url]: session });
  return file;
}

/** The stored session token for `url`, unless it has expired. */
export async function storedToken(url: string): Promise<string | null> {
  const session = (await readSessions(sessionFilePath()))[url];
  if (!session || Date.parse(session.expiresAt) <= Date.now()) return null;
  return session.token;
}

/** Forgets the session for `url`; answers the token it held, to end it on the server. */
export async function forgetSession(url: string): Promise<string | null> {
  const file = sessionFilePath();
  const sessions = await readSessions(file);
  const session = sessions[url];
  delete sessions[url];
  await writeSessions(file, sessions);
  return session?.token ?? null;
}
