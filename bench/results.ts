import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';

const RESULTS = path.resolve(__dirname, '..', '..', 'bench', 'RESULTS.md');

/**
 * Replaces (or appends) one `## title` section of bench/RESULTS.md, stamped
 * with the date and the machine, so each benchmark owns its section.
 */
export async function writeResults(title: string, table: string, notes: string[]): Promise<void> {
  const current = await readFile(RESULTS, 'utf8').catch(
    () =>
      '# Benchmark results\n\nWritten by the scripts in bench/; each section says how it was measured.\n',
  );
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
  const section = [
    `## ${title}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine}.`,
    '',
    table,
    '',
    ...notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
  const pattern = new RegExp(
    `## ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n[\\s\\S]*?(?=\\n## |$)`,
  );
  const next = pattern.test(current)
    ? current.replace(pattern, section.trimEnd() + '\n')
    : `${current.trimEnd()}\n\n${section}`;
  await writeFile(RESULTS, next);
}
