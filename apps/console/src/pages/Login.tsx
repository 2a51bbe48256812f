import { useState } from 'react';
import { messageOf } from '../api';
import { ErrorNote } from '../components/ui';
import { useSession } from '../session';

export function LoginPage({ notice }: { notice: string | null }) {
  const { signIn } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main className="login">
      <form
        className="card login-card"
        aria-labelledby="login-title"
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          signIn(username, password).then(
            () => setBusy(false),
            (err: unknown) => {
              setBusy(false);
              setError(messageOf(err));
            },
          );
        }}
      >
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            P
          </span>
          Postern
        </div>
        <h1 id="login-title">Sign in to the console</h1>
        {notice && (
          <p className="notice" role="status" data-testid="login-notice">
            {notice}
          </p>
        )}
        <label htmlFor="username">User name</label>
        <input
          id="username"
          name="username"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          required
          autoFocus
        />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
