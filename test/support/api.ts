import { ADMIN_PASSWORD, type PosternProcess } from './postern-process';

/** A thin client of Postern's HTTP API (CONTRACT.md), for tests. */
export class ApiClient {
  private constructor(
    private readonly base: string,
    private readonly bearer: string,
  ) {}

  static async login(
    postern: PosternProcess,
    username = 'admin',
    password = ADMIN_PASSWORD,
  ): Promise<ApiClient> {
    const base = `http://127.0.0.1:${postern.httpPort}/api/v1`;
    const response = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = (await response.json()) as { token?: string };
    if (response.status !== 200 || !body.token) {
      throw new Error(`login failed: ${response.status} ${JSON.stringify(body)}`);
    }
    return new ApiClient(base, body.token);
  }

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.bearer}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Creates an API token and returns its id and the secret (shown only here). */
  async createToken(
    owner: string,
    options: { name?: string; databases?: string[]; maxLevel?: string; expiresAt?: string } = {},
  ): Promise<{ id: string; token: string }> {
    const { status, body } = await this.request<{ id: string; token: string }>(
      'POST',
      `/entities/${owner}/tokens`,
      { name: options.name ?? 'test token', ...options },
    );
    if (status !== 201) throw new Error(`token creation failed: ${status} ${JSON.stringify(body)}`);
    return body;
  }
}
