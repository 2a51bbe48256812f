import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { api } from '../api';
import { ConnectionStrings } from '../components/connection-strings';
import { Badge, CopyButton, Dialog, ErrorNote, formatTime, PageHeader } from '../components/ui';
import { useAction, useLoad } from '../hooks';
import { useMe } from '../session';
import {
  databaseName,
  GRANT_LEVELS,
  type CreatedToken,
  type Database,
  type Entity,
  type Token,
} from '../types';

const EXPIRIES: readonly { label: string; days: number | null }[] = [
  { label: 'Never', days: null },
  { label: '1 day', days: 1 },
  { label: '7 days', days: 7 },
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: '1 year', days: 365 },
];

export function TokensPage() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const user = params.get('user') ?? me.slug;
  const users = useLoad(
    () => (me.isSiteAdmin ? api<Entity[]>('GET', '/entities') : Promise.resolve([] as Entity[])),
    [me.isSiteAdmin],
  );
  const tokens = useLoad(
    () => api<Token[]>('GET', `/entities/${encodeURIComponent(user)}/tokens`),
    [user],
  );
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const revoke = useAction();

  return (
    <section>
      <PageHeader title="API tokens">
        <button type="button" onClick={() => setCreating(true)}>
          New token
        </button>
      </PageHeader>
      <p className="hint">
        A token is a bearer credential for the API and a password for every PostgreSQL client.
      </p>
      {me.isSiteAdmin && (
        <div className="filters">
          <label>
            Tokens of
            <select value={user} onChange={(e) => setParams({ user: e.target.value })}>
              {(users.data ?? [])
                .filter((e) => e.kind === 'user')
                .map((e) => (
                  <option key={e.id} value={e.slug}>
                    {e.slug}
                  </option>
                ))}
              {!users.data && <option value={user}>{user}</option>}
            </select>
          </label>
        </div>
      )}
      <ErrorNote error={tokens.error ?? revoke.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Databases</th>
              <th scope="col">Max level</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(tokens.data ?? []).map((token) => {
              const expired = token.expiresAt !== null && Date.parse(token.expiresAt) < Date.now();
              return (
                <tr key={token.id}>
                  <td>
                    {token.name} <span className="hint mono">{token.id}</span>
                  </td>
                  <td>
                    {token.databases.length === 0 ? (
                      <span className="hint">all</span>
                    ) : (
                      token.databases.join(', ')
                    )}
                  </td>
                  <td>{token.maxLevel ?? <span className="hint">any</span>}</td>
                  <td>{token.expiresAt ? formatTime(token.expiresAt) : 'never'}</td>
                  <td>{formatTime(token.lastUsedAt)}</td>
                  <td>
                    {token.revokedAt ? (
                      <Badge tone="danger">revoked</Badge>
                    ) : expired ? (
                      <Badge tone="warn">expired</Badge>
                    ) : (
                      <Badge tone="ok">active</Badge>
                    )}
                  </td>
                  <td>
                    {!token.revokedAt && (
                      <button
                        type="button"
                        className="danger small"
                        onClick={() => setRevoking(token)}
                      >
                        Revoke {token.name}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {tokens.data?.length === 0 && <p className="empty">No tokens.</p>}
      </div>
      <CreateTokenDialog
        user={user}
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(token) => {
          setCreating(false);
          setCreated(token);
          tokens.reload();
        }}
      />
      <Dialog title="Token created" open={created !== null} onClose={() => setCreated(null)}>
        {created && (
          <CreatedTokenView user={user} token={created} onDone={() => setCreated(null)} />
        )}
      </Dialog>
      <Dialog
        title={`Revoke ${revoking?.name ?? ''}`}
        open={revoking !== null}
        onClose={() => setRevoking(null)}
      >
        <p>It stops working at once, and its open wire sessions end.</p>
        <div className="form-actions">
          <button type="button" className="secondary" onClick={() => setRevoking(null)}>
            Cancel
          </button>
          <button
            type="button"
            className="danger"
            disabled={revoke.busy}
            onClick={() =>
              void revoke
                .run(() => api('DELETE', `/tokens/${encodeURIComponent(revoking!.id)}`))
                .then(() => {
                  setRevoking(null);
                  tokens.reload();
                })
            }
          >
            Revoke
          </button>
        </div>
      </Dialog>
    </section>
  );
}

function CreatedTokenView({
  user,
  token,
  onDone,
}: {
  user: string;
  token: CreatedToken;
  onDone: () => void;
}) {
  const database = token.databases[0] ?? '<owner/name>';
  return (
    <div>
      <p className="warning" role="alert">
        Copy the secret now: it is shown only once and cannot be read again.
      </p>
      <label htmlFor="token-secret">Secret</label>
      <div className="copy-row">
        <input
          id="token-secret"
          readOnly
          value={token.token}
          className="mono"
          data-testid="token-secret"
        />
        <CopyButton text={token.token} label="Copy secret" />
      </div>
      <h3>Connect with it</h3>
      <ConnectionStrings target={{ user, database, password: token.token }} />
      <div className="form-actions">
        <button type="button" onClick={onDone}>
          I have copied it
        </button>
      </div>
    </div>
  );
}

function CreateTokenDialog({
  user,
  open,
  onClose,
  onCreated,
}: {
  user: string;
  open: boolean;
  onClose: () => void;
  onCreated: (token: CreatedToken) => void;
}) {
  const databases = useLoad(() => api<Database[]>('GET', '/databases'), [open]);
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [maxLevel, setMaxLevel] = useState('');
  const [expiry, setExpiry] = useState('30');
  const action = useAction();
  return (
    <Dialog title={`New token for ${user}`} open={open} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const days = expiry === 'never' ? null : Number(expiry);
          const body = {
            name,
            databases: chosen,
            ...(maxLevel ? { maxLevel } : {}),
            ...(days ? { expiresAt: new Date(Date.now() + days * 86_400_000).toISOString() } : {}),
          };
          void action.run(async () => {
            const token = await api<CreatedToken>(
              'POST',
              `/entities/${encodeURIComponent(user)}/tokens`,
              { body },
            );
            setName('');
            setChosen([]);
            onCreated(token);
          });
        }}
      >
        <label htmlFor="token-name">Name</label>
        <input
          id="token-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          required
          maxLength={100}
          autoFocus
          autoComplete="off"
          placeholder="nightly report"
        />
        <fieldset>
          <legend>Databases (none chosen: all of {user}'s)</legend>
          <ErrorNote error={databases.error} />
          <div className="checklist">
            {(databases.data ?? []).map((db) => {
              const full = databaseName(db);
              return (
                <label key={db.id} className="check">
                  <input
                    type="checkbox"
                    checked={chosen.includes(full)}
                    onChange={(e) =>
                      setChosen(
                        e.target.checked ? [...chosen, full] : chosen.filter((d) => d !== full),
                      )
                    }
                  />
                  {full}
                </label>
              );
            })}
          </div>
        </fieldset>
        <label htmlFor="token-level">Maximum level</label>
        <select id="token-level" value={maxLevel} onChange={(e) => setMaxLevel(e.target.value)}>
          <option value="">The user's own level</option>
          {GRANT_LEVELS.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
        <label htmlFor="token-expiry">Expires after</label>
        <select id="token-expiry" value={expiry} onChange={(e) => setExpiry(e.target.value)}>
          {EXPIRIES.map((e) => (
            <option key={e.label} value={e.days === null ? 'never' : String(e.days)}>
              {e.label}
            </option>
          ))}
        </select>
        <ErrorNote error={action.error} />
        <div className="form-actions">
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={action.busy}>
            Create token
          </button>
        </div>
      </form>
    </Dialog>
  );
}
