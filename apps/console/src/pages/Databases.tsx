import { useEffect, useId, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, databasePath } from '../api';
import { ConnectionStrings } from '../components/connection-strings';
import { Badge, Dialog, ErrorNote, Notice, PageHeader, TypedConfirm } from '../components/ui';
import { useAction, useLoad } from '../hooks';
import { useMe } from '../session';
import {
  atLeast,
  databaseName,
  GRANT_LEVELS,
  type Database,
  type DatabaseLimits,
  type Entity,
  type Grant,
  type GrantLevel,
} from '../types';

export function DatabasesPage() {
  const databases = useLoad(() => api<Database[]>('GET', '/databases'), []);
  const [creating, setCreating] = useState(false);
  const navigate = useNavigate();
  return (
    <section>
      <PageHeader title="Databases">
        <button type="button" onClick={() => setCreating(true)}>
          New database
        </button>
      </PageHeader>
      <ErrorNote error={databases.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Database</th>
              <th scope="col">Your level</th>
              <th scope="col">Limits</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(databases.data ?? []).map((db) => (
              <tr key={db.id}>
                <td>
                  <Link to={databasePath(databaseName(db))}>{databaseName(db)}</Link>
                </td>
                <td>
                  {db.level ? (
                    <Badge tone="info">{db.level}</Badge>
                  ) : (
                    <span className="hint">site admin</span>
                  )}
                </td>
                <td>
                  {Object.keys(db.limits).length === 0 ? (
                    <span className="hint">global</span>
                  ) : (
                    `${Object.keys(db.limits).length} set`
                  )}
                </td>
                <td>
                  <Link
                    className="button secondary small"
                    to={`/sql?database=${encodeURIComponent(databaseName(db))}`}
                  >
                    Query
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {databases.data?.length === 0 && <p className="empty">No databases yet: create one.</p>}
      </div>
      <CreateDatabaseDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(db) => navigate(databasePath(databaseName(db)))}
      />
    </section>
  );
}

function CreateDatabaseDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose: () => void;
  onCreated: (db: Database) => void;
}) {
  const me = useMe();
  const owners = useLoad(() => api<Entity[]>('GET', '/entities'), []);
  const [owner, setOwner] = useState(me.slug);
  const [name, setName] = useState('');
  const action = useAction();
  return (
    <Dialog title="New database" open={open} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void action.run(async () => {
            const db = await api<Database>('POST', '/databases', { body: { owner, name } });
            setName('');
            onCreated(db);
          });
        }}
      >
        <label htmlFor="db-owner">Owner</label>
        <input
          id="db-owner"
          list="db-owners"
          value={owner}
          onChange={(e) => setOwner(e.target.value)}
          required
          autoComplete="off"
        />
        <datalist id="db-owners">
          {(owners.data ?? [])
            .filter((e) => !e.disabled)
            .map((e) => (
              <option key={e.id} value={e.slug} />
            ))}
        </datalist>
        <p className="hint">
          Yourself, an organisation you administer
          {me.isSiteAdmin ? ', or anyone (you are a site admin)' : ''}.
        </p>
        <label htmlFor="db-name">Name</label>
        <input
          id="db-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
          autoFocus
          autoComplete="off"
          pattern="[a-z0-9][a-z0-9_\-]{0,62}"
          title="lower-case letters, digits, _ and -"
        />
        <ErrorNote error={action.error} />
        <div className="form-actions">
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={action.busy}>
            Create
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function DatabaseDetailPage() {
  const { owner = '', name = '' } = useParams();
  const full = `${owner}/${name}`;
  const me = useMe();
  const navigate = useNavigate();
  const db = useLoad(() => api<Database>('GET', databasePath(full)), [full]);
  const [deleting, setDeleting] = useState(false);
  const remove = useAction();
  const level = db.data?.level ?? null;
  const mayManage = me.isSiteAdmin || atLeast(level, 'manager');
  const mayDelete = me.isSiteAdmin || level === 'owner';

  return (
    <section>
      <PageHeader title={full}>
        <Link className="button secondary" to={`/sql?database=${encodeURIComponent(full)}`}>
          Open in SQL runner
        </Link>
        {db.data && mayDelete && (
          <button type="button" className="danger" onClick={() => setDeleting(true)}>
            Delete database
          </button>
        )}
      </PageHeader>
      <p>
        <Link to="/databases">← Databases</Link>
      </p>
      <ErrorNote error={db.error} />
      {db.data && (
        <>
          <dl className="facts">
            <dt>Your level</dt>
            <dd>{level ?? 'none (site admin)'}</dd>
          </dl>
          <div className="card">
            <h2>Connect</h2>
            <ConnectionStrings target={{ user: me.slug, database: full }} />
          </div>
          {mayManage && <GrantsEditor database={full} />}
          {mayManage ? (
            <LimitsEditor database={full} limits={db.data.limits} onSaved={db.reload} />
          ) : (
            <LimitsView limits={db.data.limits} />
          )}
        </>
      )}
      <TypedConfirm
        open={deleting}
        title={`Delete ${full}`}
        expected={full}
        action="Delete database"
        busy={remove.busy}
        error={remove.error}
        onClose={() => setDeleting(false)}
        onConfirm={() =>
          void remove
            .run(() => api('DELETE', databasePath(full)))
            .then((ok) => ok && navigate('/databases'))
        }
      >
        <p>Its data is deleted and its live sessions end. This cannot be undone.</p>
      </TypedConfirm>
    </section>
  );
}

function GrantsEditor({ database }: { database: string }) {
  const grants = useLoad(() => api<Grant[]>('GET', `${databasePath(database)}/grants`), [database]);
  const action = useAction();
  const [entity, setEntity] = useState('');
  const [level, setLevel] = useState<GrantLevel>('read-only');
  const formId = useId();
  const grantPath = (name: string) =>
    `${databasePath(database)}/grants/${encodeURIComponent(name)}`;
  const put = (name: string, to: GrantLevel) =>
    action
      .run(() => api('PUT', grantPath(name), { body: { level: to } }))
      .then((ok) => {
        grants.reload();
        return ok;
      });
  return (
    <div className="card">
      <h2>Access</h2>
      <p className="hint">Lowering or removing a level ends the affected live sessions.</p>
      <ErrorNote error={grants.error ?? action.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">User or organisation</th>
            <th scope="col">Level</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(grants.data ?? []).map((grant) => (
            <tr key={grant.entity}>
              <td>{grant.entity}</td>
              <td>
                <select
                  aria-label={`Level of ${grant.entity}`}
                  value={grant.level}
                  onChange={(e) => void put(grant.entity, e.target.value as GrantLevel)}
                >
                  {GRANT_LEVELS.map((l) => (
                    <option key={l} value={l}>
                      {l}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <button
                  type="button"
                  className="danger small"
                  onClick={() =>
                    void action
                      .run(() => api('DELETE', grantPath(grant.entity)))
                      .then(grants.reload)
                  }
                >
                  Remove {grant.entity}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {grants.data?.length === 0 && <p className="empty">Nobody else has access.</p>}
      <form
        className="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          void put(entity.trim(), level).then((ok) => ok && setEntity(''));
        }}
      >
        <div className="field">
          <label htmlFor={`${formId}-entity`}>Grant to</label>
          <input
            id={`${formId}-entity`}
            value={entity}
            onChange={(e) => setEntity(e.target.value)}
            required
            autoComplete="off"
            placeholder="user or organisation"
          />
        </div>
        <div className="field">
          <label htmlFor={`${formId}-level`}>Level</label>
          <select
            id={`${formId}-level`}
            value={level}
            onChange={(e) => setLevel(e.target.value as GrantLevel)}
          >
            {GRANT_LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={action.busy}>
          Grant
        </button>
      </form>
    </div>
  );
}

type NumericLimit = Exclude<keyof DatabaseLimits, 'poolMode' | 'upstreamAssignment'>;

const LIMITS: readonly { key: NumericLimit; label: string; unit: string }[] = [
  { key: 'statementTimeoutMs', label: 'Statement timeout', unit: 'ms' },
  { key: 'idleInTransactionTimeoutMs', label: 'Idle in transaction timeout', unit: 'ms' },
  { key: 'idleSessionTimeoutMs', label: 'Idle session timeout', unit: 'ms' },
  { key: 'maxResultRows', label: 'Result rows', unit: 'rows' },
  { key: 'maxResultBytes', label: 'Result size', unit: 'bytes' },
  { key: 'maxConnections', label: 'Connections', unit: 'sessions' },
  // 1 up to the gateway's pool size (0 is refused: a pool cannot be off).
  { key: 'poolSize', label: 'Pool size', unit: 'connections per level' },
];

function LimitsView({ limits }: { limits: DatabaseLimits }) {
  return (
    <div className="card">
      <h2>Limits</h2>
      <dl className="facts">
        <div className="fact">
          <dt>Pool mode</dt>
          <dd>{limits.poolMode === 'transaction' ? 'transaction' : 'session'}</dd>
        </div>
        <div className="fact">
          <dt>Upstream assignment</dt>
          <dd>
            {limits.poolMode === 'transaction'
              ? 'per transaction'
              : limits.upstreamAssignment === 'first-use'
                ? 'first use'
                : 'login'}
          </dd>
        </div>
        {LIMITS.map(({ key, label, unit }) => (
          <div key={key} className="fact">
            <dt>{label}</dt>
            <dd>
              {limits[key] === undefined || limits[key] === null
                ? 'global setting'
                : limits[key] === 0
                  ? 'off'
                  : `${limits[key]} ${unit}`}
            </dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

function LimitsEditor({
  database,
  limits,
  onSaved,
}: {
  database: string;
  limits: DatabaseLimits;
  onSaved: () => void;
}) {
  const initial = () =>
    Object.fromEntries(
      LIMITS.map(({ key }) => [
        key,
        limits[key] === undefined || limits[key] === null ? '' : String(limits[key]),
      ]),
    );
  const [values, setValues] = useState<Record<string, string>>(initial);
  const [poolMode, setPoolMode] = useState(limits.poolMode ?? '');
  const [assignment, setAssignment] = useState(limits.upstreamAssignment ?? '');
  const [saved, setSaved] = useState(false);
  const action = useAction();
  useEffect(() => {
    setValues(initial());
    setPoolMode(limits.poolMode ?? '');
    setAssignment(limits.upstreamAssignment ?? '');
  }, [limits]);
  return (
    <form
      className="card"
      onSubmit={(event) => {
        event.preventDefault();
        setSaved(false);
        // The route replaces every limit: the pool mode, assignment and pool size go with the others.
        const body: Record<string, number | string | null> = {
          poolMode: poolMode || null,
          upstreamAssignment: assignment || null,
        };
        for (const { key } of LIMITS)
          body[key] = values[key]!.trim() === '' ? null : Number(values[key]);
        void action
          .run(() => api('PUT', `${databasePath(database)}/limits`, { body }))
          .then((ok) => {
            if (ok) {
              setSaved(true);
              onSaved();
            }
          });
      }}
    >
      <h2>Limits</h2>
      <p className="hint">
        Empty: the global setting. 0: off for this database. New sessions use them.
      </p>
      <div className="grid-form">
        <label>
          Pool mode
          <select value={poolMode} onChange={(e) => setPoolMode(e.target.value)}>
            <option value="">session (a connection for the whole session)</option>
            <option value="transaction">transaction (a connection per transaction)</option>
          </select>
        </label>
        <label>
          Upstream assignment
          <select value={assignment} onChange={(e) => setAssignment(e.target.value)}>
            <option value="">login (the session holds a connection from login)</option>
            <option value="first-use">first use (idle clients hold none; session mode only)</option>
          </select>
        </label>
        {LIMITS.map(({ key, label, unit }) => (
          <label key={key}>
            {label} ({unit})
            <input
              inputMode="numeric"
              pattern="[0-9]*"
              value={values[key] ?? ''}
              onChange={(e) => setValues({ ...values, [key]: e.target.value })}
              placeholder="global"
            />
          </label>
        ))}
      </div>
      <ErrorNote error={action.error} />
      {saved && <Notice>Limits saved.</Notice>}
      <div className="form-actions">
        <button type="submit" disabled={action.busy}>
          Save limits
        </button>
      </div>
    </form>
  );
}
