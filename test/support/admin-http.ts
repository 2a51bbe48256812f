import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, type PosternProcess } from './postern-process';

export interface HttpAnswer<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export interface CallOptions {
  /** Sent as `Authorization: Bearer`. */
  readonly token?: string;
  /** JSON-encoded with `Content-Type: application/json`. */
  readonly body?: unknown;
  /** Sent as is (no Content-Type unless given in `headers`). */
  readonly rawBody?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** `path` is from the root (`/metrics`), not under `/api/v1`. */
  readonly absolute?: boolean;
}

/** Raw HTTP against the admin API, for tests that look at statuses, headers and error bodies. */
export class AdminHttp {
  constructor(readonly origin: string) {}

  static of(postern: PosternProcess): AdminHttp {
    return new AdminHttp(`http://127.0.0.1:${postern.httpPort}`);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async call<T = any>(
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<HttpAnswer<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(options.body);
    }
    const url =
      options.absolute ||
      path.startsWith('/api/') ||
      path.startsWith('/healthz') ||
      path.startsWith('/readyz')
        ? `${this.origin}${path}`
        : `${this.origin}/api/v1${path}`;
    const response = await fetch(url, { method, headers, body });
    const text = await response.text();
    const json = (response.headers.get('content-type') ?? '').includes('application/json');
    return {
      status: response.status,
      body: (json && text ? JSON.parse(text) : text) as T,
      headers: response.headers,
    };
  }

  /** A session token for `username` (asserts the login works). */
  async login(username = 'admin', password = ADMIN_PASSWORD): Promise<string> {
    const answer = await this.call<{ token: string }>('POST', '/auth/login', {
      body: { username, password },
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.token;
  }

  /** Logs in and binds the session token to every call. */
  async session(username = 'admin', password = ADMIN_PASSWORD): Promise<AdminSession> {
    return new AdminSession(this, await this.login(username, password));
  }

  /**
   * Users created by `adminToken`, each with the password `<slug>-password`,
   * and a session token for each.
   */
  async createUsers(adminToken: string, slugs: readonly string[]): Promise<Record<string, string>> {
    const tokens: Record<string, string> = {};
    for (const slug of slugs) {
      const created = await this.call('POST', '/entities', {
        token: adminToken,
        body: { kind: 'user', slug, password: `${slug}-password` },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      tokens[slug] = await this.login(slug, `${slug}-password`);
    }
    return tokens;
  }
}

/** The admin API as one login: every call carries its session token. */
export class AdminSession {
  constructor(
    private readonly http: AdminHttp,
    readonly token: string,
  ) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  request<T = any>(method: string, path: string, body?: unknown): Promise<HttpAnswer<T>> {
    return this.http.call<T>(method, path, { token: this.token, body });
  }

  /** An API token of `owner`; the secret is in this answer only. */
  async createToken(
    owner: string,
    options: { name?: string; databases?: string[]; maxLevel?: string; expiresAt?: string } = {},
  ): Promise<{ id: string; token: string }> {
    const answer = await this.request<{ id: string; token: string }>(
      'POST',
      `/entities/${owner}/tokens`,
      { name: options.name ?? 'test token', ...options },
    );
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body;
  }
}

/** The contract's error shape, with the expected status. */
export function assertError(answer: HttpAnswer, status: number, message?: RegExp): void {
  const body = answer.body as { statusCode?: unknown; error?: unknown; message?: unknown };
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(body.statusCode, status);
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.message, 'string');
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'statusCode']);
  if (message) assert.match(body.message as string, message);
}
