import type { CommandSummary, JsonValue, ResultField, ResultSink } from '#engine';

/** One statement's answer (README, "SQL over HTTP"): node-postgres' result, rows as arrays. */
export interface QueryResultView {
  readonly fields: readonly ResultField[];
  readonly rows: readonly JsonValue[][];
  /** The command tag's first word (`SELECT`, `INSERT`, ...); null for an empty statement. */
  readonly command: string | null;
  /** Rows the statement returned or affected; null for commands without a count. */
  readonly rowCount: number | null;
}

/** The answer of `{transaction: [...]}`: one result per statement, in order. */
export interface TransactionResultView {
  readonly results: readonly QueryResultView[];
}

/** Keeps a whole result in memory: the JSON answer, bounded by the HTTP row and byte limits. */
export class ResultCollector implements ResultSink {
  private columns: readonly ResultField[] = [];
  private readonly rows: JsonValue[][] = [];
  private summary: CommandSummary = { command: null, rowCount: null };

  fields(fields: readonly ResultField[]): void {
    this.columns = fields;
  }

  row(values: JsonValue[]): void {
    this.rows.push(values);
  }

  complete(summary: CommandSummary): void {
    this.summary = summary;
  }

  view(): QueryResultView {
    return { fields: this.columns, rows: this.rows, ...this.summary };
  }
}
