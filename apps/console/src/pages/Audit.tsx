import { useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { api } from '../api';
import { Badge, Dialog, ErrorNote, formatTime, PageHeader } from '../components/ui';
import { useLoad } from '../hooks';
import type { AuditEvent, AuditPage as Page } from '../types';

const FILTERS = ['entity', 'database', 'kind', 'since', 'until'] as const;
const PAGE_SIZE = 50;
/** Known kinds for the filter's suggestions; events of other kinds show all the same. */
const KINDS = [
  'http.login',
  'wire.login',
  'http.query',
  'session.kill',
  'entity.create',
  'entity.disable',
  'entity.enable',
  'entity.delete',
  'password.change',
  'password.reset',
  'membership.put',
  'membership.remove',
  'token.create',
  'token.revoke',
  'database.create',
  'database.delete',
  'database.limits',
  'grant.put',
  'grant.remove',
];

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const before = params.get('before');
  const query = new URLSearchParams();
  for (const key of FILTERS) {
    const value = params.get(key);
    if (!value) continue;
    query.set(key, key === 'since' || key === 'until' ? isoTime(value) : value);
  }
  query.set('limit', String(PAGE_SIZE));
  if (before) query.set('before', before);
  const page = useLoad(() => api<Page>('GET', `/audit?${query}`), [query.toString()]);
  const [selected, setSelected] = useState<AuditEvent | null>(null);

  const applyFilters = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const next = new URLSearchParams();
    for (const key of FILTERS) {
      const value = String(form.get(key) ?? '').trim();
      if (value) next.set(key, value);
    }
    setParams(next);
  };
  const withBefore = (cursor: string | null) => {
    const next = new URLSearchParams(params);
    if (cursor) next.set('before', cursor);
    else next.delete('before');
    setParams(next);
  };

  return (
    <section>
      <PageHeader title="Audit log">
        <button type="button" className="secondary" onClick={page.reload}>
          Refresh
        </button>
      </PageHeader>
      <form className="filters" onSubmit={applyFilters} key={params.toString()}>
        <label>
          Who acted
          <input name="entity" defaultValue={params.get('entity') ?? ''} placeholder="user" />
        </label>
        <label>
          Database
          <input
            name="database"
            defaultValue={params.get('database') ?? ''}
            placeholder="owner/name"
          />
        </label>
        <label>
          Kind
          <input
            name="kind"
            list="audit-kinds"
            defaultValue={params.get('kind') ?? ''}
            placeholder="wire.login"
          />
          <datalist id="audit-kinds">
            {KINDS.map((k) => (
              <option key={k} value={k} />
            ))}
          </datalist>
        </label>
        <label>
          Since
          <input name="since" type="datetime-local" defaultValue={params.get('since') ?? ''} />
        </label>
        <label>
          Until
          <input name="until" type="datetime-local" defaultValue={params.get('until') ?? ''} />
        </label>
        <button type="submit">Filter</button>
        <button
          type="button"
          className="secondary"
          onClick={() => setParams(new URLSearchParams())}
        >
          Clear
        </button>
      </form>
      <ErrorNote error={page.error} />
      <div className="table-wrap">
        <table data-testid="audit-table">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Kind</th>
              <th scope="col">Outcome</th>
              <th scope="col">Who</th>
              <th scope="col">Database</th>
              <th scope="col">Summary</th>
              <th scope="col">
                <span className="visually-hidden">Details</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(page.data?.events ?? []).map((event) => (
              <tr key={event.id}>
                <td>{formatTime(event.at)}</td>
                <td className="mono">{event.kind}</td>
                <td>
                  <Badge tone={event.outcome === 'success' ? 'ok' : 'danger'}>
                    {event.outcome}
                  </Badge>
                </td>
                <td>{event.actor ?? '—'}</td>
                <td>{event.database ?? '—'}</td>
                <td className="statement">{summary(event)}</td>
                <td>
                  <button
                    type="button"
                    className="secondary small"
                    onClick={() => setSelected(event)}
                  >
                    Details<span className="visually-hidden"> of event {event.id}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {page.data?.events.length === 0 && <p className="empty">No events match.</p>}
      </div>
      <nav className="pager" aria-label="Audit pages">
        <button
          type="button"
          className="secondary"
          disabled={!before}
          onClick={() => withBefore(null)}
        >
          Newest
        </button>
        <button
          type="button"
          className="secondary"
          disabled={!page.data?.next}
          onClick={() => withBefore(page.data?.next ?? null)}
        >
          Older
        </button>
      </nav>
      <Dialog
        title={`Event ${selected?.id ?? ''}`}
        open={selected !== null}
        onClose={() => setSelected(null)}
      >
        {selected && <EventDetail event={selected} />}
      </Dialog>
    </section>
  );
}

/** Detail keys worth seeing first in the one-line summary. */
const SUMMARY_FIRST = ['reason', 'statement', 'sqlstate', 'user', 'entity', 'level', 'role'];
const SUMMARY_PARTS = 4;

/**
 * One line about an event from whatever its detail holds: the known keys first, then the
 * other plain values, so kinds added later show without code here.
 */
function summary(event: AuditEvent): string {
  const detail = event.detail ?? {};
  const keys = [
    ...SUMMARY_FIRST.filter((key) => key in detail),
    ...Object.keys(detail).filter((key) => !SUMMARY_FIRST.includes(key)),
  ];
  const parts: string[] = [];
  for (const key of keys) {
    const value = detail[key];
    if (value === null || value === undefined || value === '' || typeof value === 'object')
      continue;
    parts.push(`${key}: ${String(value)}`);
    if (parts.length === SUMMARY_PARTS) break;
  }
  if (event.source) parts.push(`from ${event.source}`);
  if (event.method) parts.push(`by ${event.method}`);
  return parts.join(' · ');
}

function EventDetail({ event }: { event: AuditEvent }) {
  const { detail, ...fields } = event;
  return (
    <dl className="facts event-detail">
      {Object.entries(fields).map(([key, value]) => (
        <div className="fact" key={key}>
          <dt>{key}</dt>
          <dd className="mono">
            {key === 'at' ? `${formatTime(String(value))} (${String(value)})` : printable(value)}
          </dd>
        </div>
      ))}
      {Object.entries(detail ?? {}).map(([key, value]) => (
        <div className="fact" key={`detail.${key}`}>
          <dt>{key}</dt>
          <dd className="mono pre">{printable(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A datetime-local value as ISO 8601 in UTC; anything else as typed, for the API to judge. */
function isoTime(value: string): string {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

function printable(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value, null, 2);
  return String(value);
}
