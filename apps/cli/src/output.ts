/** How results are printed: aligned tables for people, JSON for scripts (`--json`). */
export interface Printer {
  /** Rows as a table of `columns`, or the raw value as JSON. */
  table<T>(value: T[], columns: Record<string, (row: T) => unknown>): void;
  /** One record as `key  value` lines, or as JSON. */
  record(value: object): void;
  /** A confirmation for people; in JSON mode, `{"ok": true, ...}`. */
  done(message: string, detail?: object): void;
}

export function printer(
  json: boolean,
  out: (text: string) => void = (t) => process.stdout.write(t),
): Printer {
  if (json) {
    return {
      table: (value) => out(JSON.stringify(value, null, 2) + '\n'),
      record: (value) => out(JSON.stringify(value, null, 2) + '\n'),
      done: (_message, detail) => out(JSON.stringify({ ok: true, ...detail }) + '\n'),
    };
  }
  return {
    table(rows, columns) {
      const headers = Object.keys(columns);
      const cells = rows.map((row) => headers.map((h) => cell(columns[h]!(row))));
      const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
      const line = (values: string[]) =>
        values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
      out([line(headers.map((h) => h.toUpperCase())), ...cells.map(line)].join('\n') + '\n');
    },
    record(value) {
      const entries = Object.entries(value);
      const width = Math.max(...entries.map(([k]) => k.length));
      out(entries.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`).join('\n') + '\n');
    },
    done: (message) => out(message + '\n'),
  };
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cell).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).replace(/\s+/g, ' ');
}
