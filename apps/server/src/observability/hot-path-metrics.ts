import type { Metric, Registry } from 'prom-client';

/**
 * Counters and histograms for the relay's hot path (every forwarded chunk, every statement).
 * prom-client validates and hashes the labels on every call (about a microsecond); here each
 * label set is resolved once into a cell, and recording is an addition on a plain number.
 * They register with the same prom-client registry and print in the same format.
 */

type Labels = Readonly<Record<string, string>>;

/** One series of a counter: add to `value`. */
export interface CounterCell {
  value: number;
}

export class HotCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly cells = new Map<string, { labels: Labels; cell: CounterCell }>();

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of `labels`, created at 0 (so it is exported before its first event). */
  cell(labels: Labels): CounterCell {
    const key = JSON.stringify(labels);
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels, cell: { value: 0 } };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: unknown[] } {
    const values = [...this.cells.values()].map(({ labels, cell }) => ({
      labels,
      value: cell.value,
    }));
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    for (const { cell } of this.cells.values()) cell.value = 0;
  }
}

/** One series of a histogram. */
export class HistogramCell {
  sum = 0;
  count = 0;
  /** Non-cumulative counts per upper bound (the last slot: above every bound). */
  readonly counts: Float64Array;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class HotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly cells = new Map<string, { labels: Labels; cell: HistogramCell }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  cell(labels: Labels): HistogramCell {
    const key = JSON.stringify(labels);
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels, cell: new HistogramCell(this.bounds) };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: unknown[] } {
    const values: unknown[] = [];
    for (const { labels, cell } of this.cells.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += cell.counts[i]!;
        values.push({
          labels: { ...labels, le: bound },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({
        labels: { ...labels, le: '+Inf' },
        value: cell.count,
        metricName: `${this.name}_bucket`,
      });
      values.push({ labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    for (const entry of this.cells.values()) entry.cell = new HistogramCell(this.bounds);
  }
}
