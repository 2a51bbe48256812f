import { useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, ApiError, messageOf } from '../api';
import { ErrorNote, PageHeader } from '../components/ui';
import { useLoad } from '../hooks';
import { isNumericType, runStatement, typeName, type SqlResult } from '../sql-stream';
import { databaseName, type Database } from '../types';

/** Rows kept on screen; the rest of a result is read (so the statement completes) and counted. */
const SHOWN_ROWS = 1000;

type Run =
  | { readonly kind: 'idle' }
  | { readonly kind: 'running'; readonly startedAt: number; readonly received: number }
  | { readonly kind: 'done'; readonly result: SqlResult; readonly ms: number }
  | { readonly kind: 'failed'; readonly error: ApiError | Error; readonly sql: string }
  | { readonly kind: 'cancelled'; readonly ms: number };

export function SqlPage() {
  const [params, setParams] = useSearchParams();
  const databases = useLoad(() => api<Database[]>('GET', '/databases'), []);
  const database = params.get('database') ?? '';
  const [sql, setSql] = useState('SELECT now(), current_user;');
  const [run, setRun] = useState<Run>({ kind: 'idle' });
  const controller = useRef<AbortController | null>(null);
  const [elapsed, setElapsed] = useState(0);

  useEffect(() => {
    if (!database && databases.data?.length) {
      setParams({ database: databaseName(databases.data[0]!) }, { replace: true });
    }
  }, [database, databases.data, setParams]);

  useEffect(() => {
    if (run.kind !== 'running') return;
    const timer = setInterval(() => setElapsed(Date.now() - run.startedAt), 200);
    return () => clearInterval(timer);
  }, [run]);

  useEffect(() => () => controller.current?.abort(), []);

  const execute = () => {
    if (!database || run.kind === 'running') return;
    const statement = sql.trim().replace(/;\s*$/, '');
    const abort = new AbortController();
    controller.current = abort;
    const startedAt = Date.now();
    setElapsed(0);
    setRun({ kind: 'running', startedAt, received: 0 });
    runStatement(database, statement, SHOWN_ROWS, abort.signal, (received) =>
      setRun((r) => (r.kind === 'running' ? { ...r, received } : r)),
    ).then(
      (result) => setRun({ kind: 'done', result, ms: Date.now() - startedAt }),
      (err: unknown) => {
        if (abort.signal.aborted) setRun({ kind: 'cancelled', ms: Date.now() - startedAt });
        else
          setRun({
            kind: 'failed',
            error: err instanceof Error ? err : new Error(messageOf(err)),
            sql: statement,
          });
      },
    );
  };

  return (
    <section className="sql-page">
      <PageHeader title="SQL runner" />
      <div className="filters">
        <label>
          Database
          <select value={database} onChange={(e) => setParams({ database: e.target.value })}>
            {!databases.data?.length && (
              <option value="">{databases.data ? 'no database' : 'loading…'}</option>
            )}
            {(databases.data ?? []).map((db) => (
              <option key={db.id} value={databaseName(db)}>
                {databaseName(db)} {db.level ? `(${db.level})` : ''}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={databases.error} />
      <label htmlFor="sql-editor">Statement</label>
      <textarea
        id="sql-editor"
        className="mono sql-editor"
        value={sql}
        spellCheck={false}
        rows={8}
        onChange={(e) => setSql(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            execute();
          }
        }}
        aria-describedby="sql-help"
      />
      <p id="sql-help" className="hint">
        One statement, run as you on the wire (your level's role, the database's guardrails),
        autocommitted. Ctrl+Enter runs it.
      </p>
      <div className="form-actions left">
        <button type="button" onClick={execute} disabled={!database || run.kind === 'running'}>
          Run
        </button>
        <button
          type="button"
          className="secondary"
          disabled={run.kind !== 'running'}
          onClick={() => controller.current?.abort()}
        >
          Cancel
        </button>
        <span className="hint" role="status" data-testid="sql-status">
          {run.kind === 'running' &&
            `Running… ${(elapsed / 1000).toFixed(1)} s, ${run.received} rows so far`}
          {run.kind === 'cancelled' &&
            `Cancelled after ${(run.ms / 1000).toFixed(1)} s: the statement was stopped.`}
          {run.kind === 'done' && `${commandLine(run.result)} in ${run.ms} ms`}
        </span>
      </div>
      {run.kind === 'failed' && <SqlErrorView error={run.error} sql={run.sql} />}
      {run.kind === 'done' && <ResultView result={run.result} />}
    </section>
  );
}

function commandLine(result: SqlResult): string {
  if (result.lateError) return `Stopped by an error after ${result.rowsReceived} rows`;
  const count = result.rowCount ?? result.rowsReceived;
  if (!result.command) return 'Done';
  return `${result.command} ${count} row${count === 1 ? '' : 's'}`;
}

function SqlErrorView({ error, sql }: { error: ApiError | Error; sql: string }) {
  const api = error instanceof ApiError ? error : null;
  return (
    <div className="error sql-error" role="alert" data-testid="sql-error">
      <div>
        <strong>{api?.sqlstate ? `ERROR ${api.sqlstate}` : 'Error'}:</strong> {error.message}
      </div>
      {api?.position !== undefined && <PositionMarker sql={sql} position={api.position} />}
      {api?.detail && <div>Detail: {api.detail}</div>}
      {api?.hint && <div>Hint: {api.hint}</div>}
    </div>
  );
}

/** The line of the statement where PostgreSQL points, with a caret under the character. */
function PositionMarker({ sql, position }: { sql: string; position: number }) {
  const before = sql.slice(0, Math.max(position - 1, 0));
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = sql.indexOf('\n', lineStart);
  const text = sql.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  const column = position - lineStart;
  return (
    <div>
      <div>
        At line {line}, column {column} (character {position}):
      </div>
      <pre className="mono caret" aria-hidden="true">
        {text}
        {'\n'}
        {' '.repeat(Math.max(column - 1, 0))}^
      </pre>
    </div>
  );
}

function ResultView({ result }: { result: SqlResult }) {
  return (
    <div>
      {result.lateError && (
        <div className="warning" role="alert" data-testid="sql-late-error">
          The statement stopped after {result.rowsReceived} rows: ERROR{' '}
          {result.lateError.sqlstate ?? ''} {result.lateError.message}
        </div>
      )}
      {result.rowsReceived > result.rows.length && (
        <p className="notice" role="status" data-testid="sql-row-limit">
          Showing the first {result.rows.length.toLocaleString()} of{' '}
          {result.rowsReceived.toLocaleString()} rows.
        </p>
      )}
      {result.fields.length > 0 && (
        <div className="table-wrap result-grid">
          <table data-testid="sql-result">
            <thead>
              <tr>
                <th scope="col" className="num hint">
                  #
                </th>
                {result.fields.map((field, i) => (
                  <th scope="col" key={i}>
                    {field.name}
                    <div className="type">{typeName(field.dataTypeID)}</div>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {result.rows.map((row, r) => (
                <tr key={r}>
                  <td className="num hint">{r + 1}</td>
                  {row.map((value, c) => (
                    <td
                      key={c}
                      className={
                        isNumericType(result.fields[c]?.dataTypeID ?? 0) ? 'num mono' : 'mono'
                      }
                    >
                      <Value value={value} />
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function Value({ value }: { value: unknown }) {
  if (value === null) return <span className="null">NULL</span>;
  if (typeof value === 'object') return <>{JSON.stringify(value)}</>;
  return <>{String(value)}</>;
}
