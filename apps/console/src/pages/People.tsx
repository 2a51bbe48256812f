import { useId, useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api } from '../api';
import {
  Badge,
  Dialog,
  ErrorNote,
  formatTime,
  Notice,
  PageHeader,
  TypedConfirm,
} from '../components/ui';
import { useAction, useLoad } from '../hooks';
import { useMe } from '../session';
import type { Entity, EntityDetail } from '../types';

const path = (slug: string) => `/entities/${encodeURIComponent(slug)}`;

export function PeoplePage() {
  const me = useMe();
  const entities = useLoad(() => api<Entity[]>('GET', '/entities'), []);
  const [search, setSearch] = useState('');
  const [kind, setKind] = useState<'all' | 'user' | 'organization'>('all');
  const [creating, setCreating] = useState<'user' | 'organization' | null>(null);
  const shown = useMemo(
    () =>
      (entities.data ?? []).filter(
        (e) =>
          (kind === 'all' || e.kind === kind) &&
          e.slug.toLowerCase().includes(search.trim().toLowerCase()),
      ),
    [entities.data, search, kind],
  );

  return (
    <section>
      <PageHeader title="People">
        {me.isSiteAdmin && (
          <button type="button" onClick={() => setCreating('user')}>
            New user
          </button>
        )}
        <button type="button" className="secondary" onClick={() => setCreating('organization')}>
          New organisation
        </button>
      </PageHeader>
      {!me.isSiteAdmin && (
        <p className="hint">You see yourself and the organisations you belong to.</p>
      )}
      <div className="filters">
        <label>
          Search
          <input
            type="search"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            placeholder="name"
          />
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
            <option value="all">Users and organisations</option>
            <option value="user">Users</option>
            <option value="organization">Organisations</option>
          </select>
        </label>
      </div>
      <ErrorNote error={entities.error} />
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((entity) => (
              <tr key={entity.id}>
                <td>
                  <Link to={`/people/${encodeURIComponent(entity.slug)}`}>{entity.slug}</Link>
                  {entity.slug === me.slug && <span className="hint"> (you)</span>}
                </td>
                <td>
                  {entity.kind === 'user' ? 'user' : 'organisation'}
                  {entity.isSiteAdmin && <Badge tone="info">site admin</Badge>}
                </td>
                <td>
                  {entity.disabled ? (
                    <Badge tone="danger">disabled</Badge>
                  ) : (
                    <Badge tone="ok">active</Badge>
                  )}
                </td>
                <td>{formatTime(entity.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {entities.data && shown.length === 0 && <p className="empty">Nobody matches.</p>}
      </div>
      <CreateEntityDialog
        kind={creating}
        onClose={() => setCreating(null)}
        onCreated={() => {
          setCreating(null);
          entities.reload();
        }}
      />
    </section>
  );
}

function CreateEntityDialog({
  kind,
  onClose,
  onCreated,
}: {
  kind: 'user' | 'organization' | null;
  onClose: () => void;
  onCreated: () => void;
}) {
  const [slug, setSlug] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  const close = () => {
    setSlug('');
    setPassword('');
    action.clear();
    onClose();
  };
  return (
    <Dialog
      title={kind === 'user' ? 'New user' : 'New organisation'}
      open={kind !== null}
      onClose={close}
    >
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const body =
            kind === 'user' && password
              ? { kind, slug, password }
              : { kind: kind ?? 'organization', slug };
          void action
            .run(() => api('POST', '/entities', { body }))
            .then((ok) => {
              if (!ok) return;
              setSlug('');
              setPassword('');
              onCreated();
            });
        }}
      >
        <label htmlFor="entity-slug">Name</label>
        <input
          id="entity-slug"
          value={slug}
          onChange={(e) => setSlug(e.target.value)}
          required
          autoFocus
          autoComplete="off"
          placeholder={kind === 'user' ? 'alice' : 'acme'}
        />
        {kind === 'user' && (
          <>
            <label htmlFor="entity-password">Password (8 characters or more)</label>
            <input
              id="entity-password"
              type="password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              autoComplete="new-password"
            />
            <p className="hint">Leave it empty for a user who logs in with API tokens only.</p>
          </>
        )}
        {kind === 'organization' && <p className="hint">You become its admin.</p>}
        <ErrorNote error={action.error} />
        <div className="form-actions">
          <button type="button" className="secondary" onClick={close}>
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

export function PersonPage() {
  const { slug = '' } = useParams();
  const me = useMe();
  const navigate = useNavigate();
  const entity = useLoad(() => api<EntityDetail>('GET', path(slug)), [slug]);
  const action = useAction();
  const [dialog, setDialog] = useState<'password' | 'delete' | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const data = entity.data;
  const myRole = data?.members?.find((m) => m.user === me.slug)?.role;
  const mayManageMembers = me.isSiteAdmin || myRole === 'admin';
  const mayChangePassword = data?.kind === 'user' && (me.isSiteAdmin || data.slug === me.slug);

  return (
    <section>
      <PageHeader title={slug}>
        {data && mayChangePassword && (
          <button type="button" className="secondary" onClick={() => setDialog('password')}>
            Set password
          </button>
        )}
        {data?.kind === 'user' && (me.isSiteAdmin || data.slug === me.slug) && (
          <Link className="button secondary" to={`/tokens?user=${encodeURIComponent(slug)}`}>
            Tokens
          </Link>
        )}
        {data && me.isSiteAdmin && (
          <button
            type="button"
            className="secondary"
            disabled={action.busy}
            onClick={() =>
              void action
                .run(() => api('PATCH', path(slug), { body: { disabled: !data.disabled } }))
                .then((ok) => {
                  if (ok)
                    setDone(
                      data.disabled
                        ? `${slug} is enabled again.`
                        : `${slug} is disabled: its sessions ended and its tokens stopped working.`,
                    );
                  entity.reload();
                })
            }
          >
            {data.disabled ? 'Enable' : 'Disable'}
          </button>
        )}
        {data && me.isSiteAdmin && (
          <button type="button" className="danger" onClick={() => setDialog('delete')}>
            Delete
          </button>
        )}
      </PageHeader>
      <p>
        <Link to="/people">← People</Link>
      </p>
      <ErrorNote error={entity.error ?? action.error} />
      {done && <Notice>{done}</Notice>}
      {data && (
        <dl className="facts">
          <dt>Kind</dt>
          <dd>{data.kind === 'user' ? 'user' : 'organisation'}</dd>
          <dt>Status</dt>
          <dd>{data.disabled ? 'disabled' : 'active'}</dd>
          <dt>Site admin</dt>
          <dd>{data.isSiteAdmin ? 'yes' : 'no'}</dd>
          <dt>Created</dt>
          <dd>{formatTime(data.createdAt)}</dd>
        </dl>
      )}
      {data?.kind === 'organization' && (
        <Members
          org={slug}
          members={data.members ?? []}
          mayManage={mayManageMembers}
          onChange={entity.reload}
        />
      )}
      <PasswordDialog
        slug={slug}
        open={dialog === 'password'}
        onClose={() => setDialog(null)}
        onDone={() => {
          setDialog(null);
          setDone(`The password of ${slug} is changed; their other console sessions ended.`);
        }}
      />
      <DeleteEntity
        slug={slug}
        open={dialog === 'delete'}
        onClose={() => setDialog(null)}
        onDeleted={() => navigate('/people')}
      />
    </section>
  );
}

function Members({
  org,
  members,
  mayManage,
  onChange,
}: {
  org: string;
  members: readonly { user: string; role: 'member' | 'admin' }[];
  mayManage: boolean;
  onChange: () => void;
}) {
  const [user, setUser] = useState('');
  const [role, setRole] = useState<'member' | 'admin'>('member');
  const action = useAction();
  const formId = useId();
  const member = (name: string) => `${path(org)}/members/${encodeURIComponent(name)}`;
  return (
    <div className="card">
      <h2>Members</h2>
      <ErrorNote error={action.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Role</th>
            {mayManage && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.user}>
              <td>{m.user}</td>
              <td>
                {mayManage ? (
                  <select
                    aria-label={`Role of ${m.user}`}
                    value={m.role}
                    onChange={(e) =>
                      void action
                        .run(() => api('PUT', member(m.user), { body: { role: e.target.value } }))
                        .then(onChange)
                    }
                  >
                    <option value="member">member</option>
                    <option value="admin">admin</option>
                  </select>
                ) : (
                  m.role
                )}
              </td>
              {mayManage && (
                <td>
                  <button
                    type="button"
                    className="danger small"
                    onClick={() =>
                      void action.run(() => api('DELETE', member(m.user))).then(onChange)
                    }
                  >
                    Remove {m.user}
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {mayManage && (
        <form
          className="inline-form"
          onSubmit={(event) => {
            event.preventDefault();
            void action
              .run(() => api('PUT', member(user.trim()), { body: { role } }))
              .then((ok) => {
                if (ok) setUser('');
                onChange();
              });
          }}
        >
          <div className="field">
            <label htmlFor={`${formId}-user`}>User</label>
            <input
              id={`${formId}-user`}
              value={user}
              onChange={(e) => setUser(e.target.value)}
              required
              autoComplete="off"
            />
          </div>
          <div className="field">
            <label htmlFor={`${formId}-role`}>Role</label>
            <select
              id={`${formId}-role`}
              value={role}
              onChange={(e) => setRole(e.target.value as 'member' | 'admin')}
            >
              <option value="member">member</option>
              <option value="admin">admin</option>
            </select>
          </div>
          <button type="submit" disabled={action.busy}>
            Add member
          </button>
        </form>
      )}
    </div>
  );
}

function PasswordDialog({
  slug,
  open,
  onClose,
  onDone,
}: {
  slug: string;
  open: boolean;
  onClose: () => void;
  onDone: () => void;
}) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const action = useAction();
  const mismatch = again.length > 0 && again !== password;
  return (
    <Dialog title={`New password for ${slug}`} open={open} onClose={onClose}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (password !== again) return;
          void action
            .run(() => api('PUT', `${path(slug)}/password`, { body: { password } }))
            .then((ok) => {
              if (!ok) return;
              setPassword('');
              setAgain('');
              onDone();
            });
        }}
      >
        <label htmlFor="new-password">New password (8 characters or more)</label>
        <input
          id="new-password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
          autoFocus
        />
        <label htmlFor="new-password-again">The same again</label>
        <input
          id="new-password-again"
          type="password"
          autoComplete="new-password"
          value={again}
          onChange={(e) => setAgain(e.target.value)}
          required
          aria-invalid={mismatch}
        />
        {mismatch && <p className="error">The two passwords differ.</p>}
        <ErrorNote error={action.error} />
        <div className="form-actions">
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" disabled={action.busy || mismatch}>
            Set password
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteEntity({
  slug,
  open,
  onClose,
  onDeleted,
}: {
  slug: string;
  open: boolean;
  onClose: () => void;
  onDeleted: () => void;
}) {
  const [reassignTo, setReassignTo] = useState('');
  const action = useAction();
  return (
    <TypedConfirm
      open={open}
      title={`Delete ${slug}`}
      expected={slug}
      action="Delete"
      busy={action.busy}
      error={action.error}
      onClose={onClose}
      onConfirm={() => {
        const query = reassignTo.trim()
          ? `?reassignTo=${encodeURIComponent(reassignTo.trim())}`
          : '';
        void action.run(() => api('DELETE', path(slug) + query)).then((ok) => ok && onDeleted());
      }}
    >
      <p>Its tokens, memberships, grants and sessions go with it.</p>
      <label htmlFor="reassign-to">Give its databases to (optional)</label>
      <input
        id="reassign-to"
        value={reassignTo}
        onChange={(e) => setReassignTo(e.target.value)}
        autoComplete="off"
        placeholder="user or organisation"
      />
    </TypedConfirm>
  );
}
