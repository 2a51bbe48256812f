import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) and prints the
 * functions with the most self time, then the same time summed per source
 * file, so a profile can be read without DevTools.
 *
 *   node dist/bench/cpu-profile.js <file.cpuprofile> [top=30]
 */
interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function shortFile(url: string): string {
  if (!url) return '(native)';
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('node_modules/');
  if (modules >= 0) return file.slice(modules + 'node_modules/'.length);
  const dist = file.indexOf('/dist/');
  return dist >= 0 ? file.slice(dist + 6) : path.basename(file);
}

function topOf(totals: Map<string, number>, top: number, all: number): string[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(
      ([name, micros]) =>
        `${(micros / 1000).toFixed(0).padStart(7)} ms ${((micros * 100) / all).toFixed(1).padStart(5)}%  ${name}`,
    );
}

export async function printTopSelfTime(file: string, top = 30): Promise<void> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') return;
    const where = shortFile(frame.url);
    const name = `${frame.functionName || '(anonymous)'} ${where}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
    byFile.set(where, (byFile.get(where) ?? 0) + micros);
    all += micros;
  });
  console.log(`${path.basename(file)}: ${(all / 1000).toFixed(0)} ms busy (idle excluded)`);
  console.log('top functions by self time:');
  for (const line of topOf(byFunction, top, all)) console.log(line);
  console.log('self time by file:');
  for (const line of topOf(byFile, top, all)) console.log(line);
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/bench/cpu-profile.js <file.cpuprofile> [top]');
    process.exit(2);
  }
  printTopSelfTime(file, Number(top ?? 30)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
