import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AdminHttp } from './admin-http';
import { e2eSource, run, type ProcessResult } from './clients';
import { PosternProcess } from './postern-process';

/** A client program: given its arguments, runs to completion. */
export type DriverProgram = (args: readonly string[]) => Promise<ProcessResult>;

/** A gateway with an API token of `admin`, which every driver test logs in with. */
export interface DriverGateway {
  readonly postern: PosternProcess;
  readonly token: string;
}

export async function startGatewayWithToken(): Promise<DriverGateway> {
  const postern = await PosternProcess.start();
  const api = await AdminHttp.of(postern).session();
  const { token } = await api.createToken('admin', { name: 'driver fidelity' });
  return { postern, token };
}

/**
 * Runs one section of a driver program, which takes `<port> <user>
 * <password> <CA file> <section>` and prints one JSON object as its last
 * line; the program must exit 0.
 */
export async function runSection(
  program: DriverProgram,
  gateway: DriverGateway,
  section: string,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<any> {
  const { postern, token } = gateway;
  const result = await program([String(postern.wirePort), 'admin', token, postern.caFile, section]);
  assert.equal(result.code, 0, `${section} failed:\n${result.stderr}\n${result.stdout}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

/**
 * A script under test/e2e run by an interpreter (Debian's /usr/bin/python3,
 * ruby, php): `interpreter [...flags] <script> <args>`.
 */
export function script(
  interpreter: string,
  file: readonly string[],
  flags: readonly string[] = [],
): DriverProgram {
  const source = e2eSource(...file);
  return (args) => run(interpreter, [...flags, source, ...args]);
}

/** Debian's golang-github-lib-pq-dev, GOPATH-style source. */
export const LIB_PQ_SOURCE = '/usr/share/gocode/src/github.com/lib/pq';

/**
 * Go's build cache, kept between runs so that only the first build compiles
 * the standard library and lib/pq (a few seconds) and later ones link only.
 */
const GO_CACHE = path.join(tmpdir(), 'postern-go-build-cache');

/**
 * Builds the Go program in test/e2e/go/<name> against Debian's lib/pq,
 * offline (no module proxy: a module file pointing at the Debian source is
 * written next to a copy of the program), and returns the binary's runner;
 * `dispose` deletes the build directory.
 */
export async function buildGo(
  name: string,
): Promise<{ program: DriverProgram; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'postern-go-'));
  await copyFile(e2eSource('go', name, 'main.go'), path.join(dir, 'main.go'));
  await writeFile(
    path.join(dir, 'go.mod'),
    [
      `module postern.test/${name}`,
      'go 1.19',
      'require github.com/lib/pq v1.10.7',
      `replace github.com/lib/pq => ${LIB_PQ_SOURCE}`,
      '',
    ].join('\n'),
  );
  await mkdir(GO_CACHE, { recursive: true });
  const binary = path.join(dir, name);
  const built = await run('go', ['build', '-o', binary, '.'], {
    cwd: dir,
    env: {
      GOFLAGS: '-mod=mod',
      GOPROXY: 'off',
      GOCACHE: GO_CACHE,
      GOPATH: path.join(dir, 'gopath'),
    },
    timeoutMs: 300_000,
  });
  const dispose = () => rm(dir, { recursive: true, force: true });
  if (built.code !== 0) {
    await dispose();
    throw new Error(`go build failed:\n${built.stderr}`);
  }
  return { program: (args) => run(binary, args), dispose };
}
