import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, onSessionEnded } from './api';
import type { Me } from './types';

/** Signed-in state as a type: the console never guesses between these. */
export type SessionState =
  | { readonly kind: 'checking' }
  | { readonly kind: 'signed-out'; readonly notice: string | null }
  | { readonly kind: 'signed-in'; readonly me: Me };

interface SessionApi {
  readonly state: SessionState;
  signIn(username: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionApi | null>(null);

export const SESSION_ENDED =
  'Your session has ended: it expired, or it was closed elsewhere (a password change, ' +
  'an administrator). Sign in again to continue.';

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ kind: 'checking' });

  useEffect(() => {
    api<Me>('GET', '/console/me', { anonymous: true }).then(
      (me) => setState({ kind: 'signed-in', me }),
      (err: unknown) =>
        setState({
          kind: 'signed-out',
          notice: err instanceof ApiError && err.status !== 401 ? err.message : null,
        }),
    );
  }, []);

  useEffect(
    () =>
      onSessionEnded(() =>
        setState((current) =>
          current.kind === 'signed-in' ? { kind: 'signed-out', notice: SESSION_ENDED } : current,
        ),
      ),
    [],
  );

  const signIn = useCallback(async (username: string, password: string) => {
    await api('POST', '/auth/login', { body: { username, password }, anonymous: true });
    const me = await api<Me>('GET', '/console/me');
    setState({ kind: 'signed-in', me });
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api('POST', '/auth/logout', { anonymous: true });
    } finally {
      setState({ kind: 'signed-out', notice: 'You are signed out.' });
    }
  }, []);

  return (
    <SessionContext.Provider value={{ state, signIn, signOut }}>{children}</SessionContext.Provider>
  );
}

export function useSession(): SessionApi {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}

/** The signed-in user; only inside the signed-in layout. */
export function useMe(): Me {
  const { state } = useSession();
  if (state.kind !== 'signed-in') throw new Error('useMe while not signed in');
  return state.me;
}
