import { useMemo, useState } from 'react';
import { api } from '../api';
import {
  Badge,
  Dialog,
  ErrorNote,
  formatDuration,
  formatTime,
  Notice,
  PageHeader,
} from '../components/ui';
import { useAction, useLoad } from '../hooks';
import type { LiveSession } from '../types';

const REFRESH_MS = 2000;
const STATES = ['active', 'idle', 'idle in transaction', 'idle in transaction (aborted)'];

export function SessionsPage() {
  const [user, setUser] = useState('');
  const [database, setDatabase] = useState('');
  const [state, setState] = useState('');
  const [paused, setPaused] = useState(false);
  const sessions = useLoad(
    () => api<LiveSession[]>('GET', '/sessions'),
    [],
    paused ? undefined : REFRESH_MS,
  );
  const [killing, setKilling] = useState<LiveSession | null>(null);
  const [killed, setKilled] = useState<string | null>(null);
  const kill = useAction();
  const shown = useMemo(
    () =>
      (sessions.data ?? []).filter(
        (s) =>
          s.user.includes(user.trim()) &&
          s.database.includes(database.trim()) &&
          (state === '' || s.state === state),
      ),
    [sessions.data, user, database, state],
  );

  return (
    <section>
      <PageHeader title="Live sessions">
        <button
          type="button"
          className="secondary"
          onClick={() => setPaused(!paused)}
          aria-pressed={paused}
        >
          {paused ? 'Resume updates' : 'Pause updates'}
        </button>
      </PageHeader>
      <div className="filters">
        <label>
          User
          <input type="search" value={user} onChange={(e) => setUser(e.target.value)} />
        </label>
        <label>
          Database
          <input
            type="search"
            value={database}
            onChange={(e) => setDatabase(e.target.value)}
            placeholder="owner/name"
          />
        </label>
        <label>
          State
          <select value={state} onChange={(e) => setState(e.target.value)}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={sessions.error ?? kill.error} />
      {killed && <Notice>{killed}</Notice>}
      <div className="table-wrap">
        <table data-testid="sessions-table">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">User</th>
              <th scope="col">Database</th>
              <th scope="col">State</th>
              <th scope="col">Current statement</th>
              <th scope="col">Running for</th>
              <th scope="col">Client</th>
              <th scope="col">Connected</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((s) => (
              <tr key={`${s.id} ${s.startedAt}`}>
                <td className="mono">{s.id}</td>
                <td>
                  {s.user}
                  {s.tokenId && <span className="hint"> (token {s.tokenId})</span>}
                </td>
                <td>
                  {s.database} <span className="hint">{s.level}</span>
                </td>
                <td>
                  <Badge
                    tone={
                      s.state === 'active'
                        ? 'ok'
                        : s.state.includes('aborted')
                          ? 'danger'
                          : s.state.includes('transaction')
                            ? 'warn'
                            : 'neutral'
                    }
                  >
                    {s.state}
                  </Badge>
                </td>
                <td className="mono statement" title={s.query ?? ''}>
                  {s.query ?? <span className="hint">none yet</span>}
                </td>
                <td>{formatDuration(s.queryDurationMs)}</td>
                <td>
                  {s.applicationName || <span className="hint">unnamed</span>}
                  <div className="hint">
                    {s.clientAddress} · {s.tlsVersion ?? 'no TLS'} · {s.authMethod}
                  </div>
                </td>
                <td>{formatTime(s.startedAt)}</td>
                <td>
                  <button type="button" className="danger small" onClick={() => setKilling(s)}>
                    Kill {s.id}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {sessions.data && shown.length === 0 && (
          <p className="empty">No live sessions{sessions.data.length ? ' match' : ''}.</p>
        )}
      </div>
      <Dialog
        title={`Kill session ${killing?.id ?? ''}`}
        open={killing !== null}
        onClose={() => setKilling(null)}
      >
        {killing && (
          <>
            <p>
              {killing.user} on {killing.database} is disconnected at once; the client gets FATAL
              57P01, and an open transaction is rolled back.
            </p>
            <div className="form-actions">
              <button type="button" className="secondary" onClick={() => setKilling(null)}>
                Cancel
              </button>
              <button
                type="button"
                className="danger"
                disabled={kill.busy}
                autoFocus
                onClick={() => {
                  const target = killing;
                  void kill
                    .run(() => api('DELETE', `/sessions/${target.id}`))
                    .then((ok) => {
                      setKilling(null);
                      if (ok) setKilled(`Session ${target.id} of ${target.user} was ended.`);
                      sessions.reload();
                    });
                }}
              >
                Kill session
              </button>
            </div>
          </>
        )}
      </Dialog>
    </section>
  );
}
