import { mkdtemp, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run, type ProcessResult } from './clients';

/** Debian's libpostgresql-jdbc-java. */
export const PGJDBC_JAR = '/usr/share/java/postgresql.jar';

/**
 * Compiles a Java program from test/e2e/java (or another directory of the
 * repository, e.g. `test/fuzz/java`) against pgJDBC (javac, in the test run)
 * and returns a function that runs it.
 */
export async function compileJava(
  className: string,
  sourceDir = 'test/e2e/java',
): Promise<(args: readonly string[]) => Promise<ProcessResult>> {
  const source = path.resolve(__dirname, '..', '..', '..', sourceDir, `${className}.java`);
  const dir = await mkdtemp(path.join(tmpdir(), 'postern-java-'));
  await copyFile(source, path.join(dir, `${className}.java`));
  const compiled = await run('javac', [
    '-cp',
    PGJDBC_JAR,
    '-d',
    dir,
    path.join(dir, `${className}.java`),
  ]);
  if (compiled.code !== 0) throw new Error(`javac failed: ${compiled.stderr}`);
  return (args) => run('java', ['-cp', `${PGJDBC_JAR}${path.delimiter}${dir}`, className, ...args]);
}
