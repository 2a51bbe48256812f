/**
 * What a SCRAM login costs the server, and how it grows with the number of
 * API tokens on the user (each is a candidate verifier).
 *
 *   npm run build && node dist/bench/login-cost.js
 *
 * Part 1 times the server's SCRAM work alone (client-first + client-final
 * with N candidates) in-process. Part 2 starts the real gateway and times
 * whole logins (TLS + SCRAM + authorisation + upstream connect) for a user
 * with 1, 10 and 100 tokens, logging in with the password (the last
 * candidate checked) and reports the gateway's CPU per login from
 * /proc/<pid>/stat. Results are appended to bench/RESULTS.md.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import {
  deriveScramVerifier,
  newScramSalt,
  startScramClient,
  startScramServer,
  type ScramCandidate,
} from '#auth';
import { AdminHttp } from '../test/support/admin-http';
import { ADMIN_PASSWORD, PosternProcess } from '../test/support/postern-process';
import { connectTls, scramLogin } from '../test/support/raw-client';
import { writeResults } from './results';

const TOKEN_COUNTS = [1, 10, 100];

function serverScramMicros(candidateCount: number, rounds: number): number {
  const salt = newScramSalt();
  const password = 'the password';
  const candidates: ScramCandidate[] = [];
  for (let i = 0; i < candidateCount; i++) {
    candidates.push({ id: `t${i}`, verifier: deriveScramVerifier(`pst_x_${i}`, salt, 4096) });
  }
  candidates.push({ id: 'password', verifier: deriveScramVerifier(password, salt, 4096) });
  // The client side is prepared outside the timed region.
  let serverNanos = 0n;
  for (let round = 0; round < rounds; round++) {
    const client = startScramClient({ password, channelBinding: null });
    const t0 = process.hrtime.bigint();
    const server = startScramServer({ salt, iterations: 4096, candidates, channelBinding: null });
    const { serverFirst, next } = server.receiveClientFirst(
      client.mechanism,
      Buffer.from(client.clientFirst),
    );
    const t1 = process.hrtime.bigint();
    const final = client.receiveServerFirst(serverFirst);
    const t2 = process.hrtime.bigint();
    const outcome = next.receiveClientFinal(Buffer.from(final.clientFinal));
    const t3 = process.hrtime.bigint();
    if (outcome.outcome !== 'ok') throw new Error('login failed');
    serverNanos += t1 - t0 + (t3 - t2);
  }
  return Number(serverNanos / BigInt(rounds)) / 1000;
}

async function cpuMillis(pid: number): Promise<number> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

async function endToEnd(postern: PosternProcess, ca: string, logins: number) {
  const latencies: number[] = [];
  const cpuBefore = await cpuMillis(postern.pid);
  for (let i = 0; i < logins; i++) {
    const t0 = performance.now();
    const socket = await connectTls(postern.wirePort, ca);
    const { messages } = await scramLogin(
      socket,
      { user: 'admin', database: 'admin/main' },
      ADMIN_PASSWORD,
    );
    latencies.push(performance.now() - t0);
    socket.end(Buffer.from('X\0\0\0\x04', 'latin1'));
    if (messages.at(-1)?.type !== 'Z') throw new Error('login failed');
  }
  const cpu = ((await cpuMillis(postern.pid)) - cpuBefore) / logins;
  latencies.sort((a, b) => a - b);
  const p = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { p50: p(0.5), p95: p(0.95), cpu };
}

async function main(): Promise<void> {
  const lines: string[] = [];
  lines.push('| tokens on the user | server SCRAM work per login (µs) |', '| ---: | ---: |');
  for (const n of [0, ...TOKEN_COUNTS]) {
    serverScramMicros(n, 50); // warm up
    lines.push(`| ${n} | ${serverScramMicros(n, 500).toFixed(1)} |`);
  }

  const postern = await PosternProcess.start({ env: { POSTERN_LOG_LEVEL: 'error' } });
  try {
    const ca = await postern.ca();
    const api = await AdminHttp.of(postern).session();
    lines.push(
      '',
      '| tokens on the user | login latency p50 (ms) | p95 (ms) | gateway CPU per login (ms) |',
      '| ---: | ---: | ---: | ---: |',
    );
    let created = 0;
    await endToEnd(postern, ca, 20); // warm up
    for (const n of TOKEN_COUNTS) {
      for (; created < n; created++) await api.createToken('admin', { name: `bench ${created}` });
      const r = await endToEnd(postern, ca, 200);
      lines.push(`| ${n} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.cpu.toFixed(2)} |`);
    }
  } finally {
    await postern.dispose();
  }
  const section = lines.join('\n');
  console.log(section);
  await writeResults('SCRAM login cost', section, [
    'Server SCRAM work: client-first + client-final with N token verifiers plus the password, in-process, mean of 500.',
    'Login latency: TCP + TLS handshake + SCRAM + control-plane lookups + authorisation + an upstream connection from the pool (reused: sequential logins) + Terminate, 200 sequential logins with the password (the last candidate checked) from one client on loopback; the client PBKDF2 (4096 iterations) is in the latency, not in the gateway CPU.',
  ]);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
