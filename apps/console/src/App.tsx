import { useEffect } from 'react';
import { Navigate, NavLink, Route, Routes, useLocation, useNavigate } from 'react-router';
import { AuditPage } from './pages/Audit';
import { DatabaseDetailPage, DatabasesPage } from './pages/Databases';
import { LoginPage } from './pages/Login';
import { OverviewPage } from './pages/Overview';
import { PeoplePage, PersonPage } from './pages/People';
import { SessionsPage } from './pages/Sessions';
import { SqlPage } from './pages/Sql';
import { TokensPage } from './pages/Tokens';
import { useSession } from './session';

export function App() {
  const { state } = useSession();
  const location = useLocation();
  if (state.kind === 'checking') {
    return (
      <main className="center" aria-busy="true">
        <p>Loading the console…</p>
      </main>
    );
  }
  if (state.kind === 'signed-out') {
    if (location.pathname !== '/login') {
      const next = location.pathname + location.search;
      return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
    }
    return <LoginPage notice={state.notice} />;
  }
  return <Shell />;
}

const NAV: readonly { to: string; label: string; siteAdminOnly?: boolean }[] = [
  { to: '/overview', label: 'Overview', siteAdminOnly: true },
  { to: '/people', label: 'People' },
  { to: '/tokens', label: 'Tokens' },
  { to: '/databases', label: 'Databases' },
  { to: '/sessions', label: 'Live sessions' },
  { to: '/sql', label: 'SQL' },
  { to: '/audit', label: 'Audit' },
];

function Shell() {
  const { state, signOut } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const me = state.kind === 'signed-in' ? state.me : null;
  const home = me?.isSiteAdmin ? '/overview' : '/databases';

  // Focus the page's heading after navigation, so keyboard and screen-reader users land on it.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [location.pathname]);

  if (!me) return null;
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            P
          </span>
          Postern
        </div>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((item) => !item.siteAdminOnly || me.isSiteAdmin).map((item) => (
              <li key={item.to}>
                <NavLink to={item.to}>{item.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="whoami">
          <div>
            Signed in as <strong data-testid="whoami">{me.slug}</strong>
            {me.isSiteAdmin && <span className="badge badge-info">site admin</span>}
          </div>
          <button
            type="button"
            className="secondary small"
            onClick={() => signOut().then(() => navigate('/login'))}
          >
            Sign out
          </button>
        </div>
      </aside>
      <main id="main" className="content">
        <Routes>
          <Route path="/" element={<Navigate to={home} replace />} />
          <Route
            path="/login"
            element={<Navigate to={nextAfterLogin(location.search, home)} replace />}
          />
          <Route
            path="/overview"
            element={me.isSiteAdmin ? <OverviewPage /> : <Navigate to="/databases" replace />}
          />
          <Route path="/people" element={<PeoplePage />} />
          <Route path="/people/:slug" element={<PersonPage />} />
          <Route path="/tokens" element={<TokensPage />} />
          <Route path="/databases" element={<DatabasesPage />} />
          <Route path="/databases/:owner/:name" element={<DatabaseDetailPage />} />
          <Route path="/sessions" element={<SessionsPage />} />
          <Route path="/sql" element={<SqlPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
    </div>
  );
}

/** Back where the user was when the session ended; only paths of this console. */
function nextAfterLogin(search: string, home: string): string {
  const next = new URLSearchParams(search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') && next !== '/login' ? next : home;
}

function NotFound() {
  return (
    <section>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        This address is not a page of the console. <NavLink to="/">Go to the start page</NavLink>.
      </p>
    </section>
  );
}
