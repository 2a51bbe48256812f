import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Recorded client sessions: the client -> server byte stream of one real
 * connection, split into protocol messages. `startup` is the untyped first
 * packet, `auth` the SASL messages before the session began, `relay` the rest.
 */
export type RecordedPhase = 'startup' | 'auth' | 'relay';

export interface RecordedMessage {
  readonly phase: RecordedPhase;
  readonly bytes: Buffer;
}

export interface Recording {
  /** Which client produced it, e.g. `psql`, `pgjdbc`. */
  readonly client: string;
  readonly messages: readonly RecordedMessage[];
}

/** In the source tree, not dist/: the fixtures are committed, not compiled. */
export const CORPUS_DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fuzz', 'corpus');

interface RecordingFile {
  readonly client: string;
  readonly howToRegenerate: string;
  readonly messages: ReadonlyArray<{ readonly phase: RecordedPhase; readonly hex: string }>;
}

/**
 * Splits a client -> server stream: one length-prefixed startup packet, then
 * typed messages. The SASL messages right after the startup packet are the
 * login; a trailing incomplete frame (none in a clean recording) is kept whole.
 */
export function splitClientStream(stream: Buffer): RecordedMessage[] {
  const messages: RecordedMessage[] = [];
  if (stream.length < 4) return stream.length ? [{ phase: 'startup', bytes: stream }] : [];
  const startupLength = stream.readInt32BE(0);
  messages.push({ phase: 'startup', bytes: stream.subarray(0, startupLength) });
  let offset = startupLength;
  let inLogin = true;
  while (offset < stream.length) {
    const length = offset + 5 <= stream.length ? stream.readInt32BE(offset + 1) : Infinity;
    const end = Math.min(stream.length, offset + 1 + length);
    const type = String.fromCharCode(stream[offset]!);
    inLogin = inLogin && type === 'p';
    messages.push({ phase: inLogin ? 'auth' : 'relay', bytes: stream.subarray(offset, end) });
    offset = end;
  }
  return messages;
}

export async function saveRecording(recording: Recording): Promise<string> {
  const file = path.join(CORPUS_DIR, `${recording.client}.json`);
  const content: RecordingFile = {
    client: recording.client,
    howToRegenerate: 'npm run build && node dist/test/fuzz/record.js',
    messages: recording.messages.map((m) => ({ phase: m.phase, hex: m.bytes.toString('hex') })),
  };
  await writeFile(file, JSON.stringify(content, null, 1) + '\n');
  return file;
}

/** Every recording in test/fuzz/corpus, in file name order (case generation depends on it). */
export async function loadCorpus(): Promise<Recording[]> {
  const names = (await readdir(CORPUS_DIR)).filter((name) => name.endsWith('.json')).sort();
  const recordings: Recording[] = [];
  for (const name of names) {
    const file = JSON.parse(await readFile(path.join(CORPUS_DIR, name), 'utf8')) as RecordingFile;
    recordings.push({
      client: file.client,
      messages: file.messages.map((m) => ({ phase: m.phase, bytes: Buffer.from(m.hex, 'hex') })),
    });
  }
  if (recordings.length === 0) throw new Error(`no recordings in ${CORPUS_DIR}`);
  return recordings;
}
