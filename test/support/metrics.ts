import assert from 'node:assert/strict';
import type { AdminHttp } from './admin-http';

/** One sample of the Prometheus text format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text exposition format (what prom-client writes). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** A scrape of `GET /metrics` with `token`. */
export class Scrape {
  private constructor(
    readonly text: string,
    readonly samples: readonly Sample[],
  ) {}

  static async of(http: AdminHttp, token: string): Promise<Scrape> {
    const answer = await http.call<string>('GET', '/metrics', { token, absolute: true });
    assert.equal(answer.status, 200, String(answer.body));
    return new Scrape(answer.body, parseMetrics(answer.body));
  }

  /** The sum of the samples of `name` whose labels include `labels`. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number {
    return this.samples
      .filter(
        (sample) =>
          sample.name === name &&
          Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
      )
      .reduce((sum, sample) => sum + sample.value, 0);
  }
}

/** Scrapes until `check` holds (gauges follow connections closing), or fails with the last scrape. */
export async function scrapeUntil(
  http: AdminHttp,
  token: string,
  check: (scrape: Scrape) => boolean,
  timeoutMs = 10_000,
): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const scrape = await Scrape.of(http, token);
    if (check(scrape)) return scrape;
    assert.ok(Date.now() < deadline, `metrics never matched:\n${scrape.text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
