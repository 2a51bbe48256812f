/**
 * The admin API as the console calls it: same origin, the HttpOnly session cookie (never
 * readable here), JSON bodies. Every failure becomes an ApiError whose message can be shown
 * as it is; a 401 on a signed-in call also tells the session layer that the session ended.
 */
export const API = '/api/v1';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly sqlstate?: string,
    readonly position?: number,
    readonly detail?: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

type SessionEndedListener = () => void;
const sessionEndedListeners = new Set<SessionEndedListener>();

/** Called when a call answers 401: the session expired, was closed, or the user lost access. */
export function onSessionEnded(listener: SessionEndedListener): () => void {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

export interface CallOptions {
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  readonly accept?: string;
  /** The login call: a 401 there is a wrong password, not an ended session. */
  readonly anonymous?: boolean;
}

/** The raw response of a call that succeeded (2xx); throws ApiError otherwise. */
export async function request(
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Response> {
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'The gateway cannot be reached. Check that it runs and try again.');
  }
  if (response.ok) return response;
  const error = await errorOf(response);
  if (response.status === 401 && !options.anonymous) {
    for (const listener of sessionEndedListeners) listener();
  }
  throw error;
}

/** A call answering JSON (or nothing: 204 gives undefined). */
export async function api<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const response = await request(method, path, options);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** `{statusCode, error, message, sqlstate?, ...}` in words, whatever the server sent. */
export async function errorOf(response: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    // not JSON: a proxy's page; the status says enough
  }
  return errorFromBody(response.status, body);
}

export function errorFromBody(status: number, body: Record<string, unknown>): ApiError {
  const raw = body.message;
  const text = Array.isArray(raw) ? raw.join('; ') : typeof raw === 'string' ? raw : '';
  const message = text || fallbackMessage(status);
  const str = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
  const position = typeof body.position === 'number' ? body.position : undefined;
  return new ApiError(status, message, str('sqlstate'), position, str('detail'), str('hint'));
}

function fallbackMessage(status: number): string {
  switch (status) {
    case 401:
      return 'You are not signed in.';
    case 403:
      return 'You may not do this.';
    case 404:
      return 'Not found, or not visible to you.';
    case 429:
      return 'Too many attempts; wait a minute and try again.';
    default:
      return `The gateway answered ${status}.`;
  }
}

/** Encodes `owner/name` for a path: /databases/acme/books. */
export function databasePath(database: string): string {
  const [owner, name] = database.split('/');
  return `/databases/${encodeURIComponent(owner!)}/${encodeURIComponent(name!)}`;
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
