import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startScramClient } from '#auth';
import { AdminHttp } from '../support/admin-http';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import { connectTls, int32, message, MessageStream, startupMessage } from '../support/raw-client';
import { mannWhitneyU, median } from '../support/statistics';

/** The documented defaults: wire logins 10 per (address, user) per 15 min, HTTP 5 a minute. */
const WIRE_LIMIT = 10;
const HTTP_LIMIT = 5;
const BEARER_LIMIT = 30;

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * An HTTP call from a chosen loopback source address (127.0.0.x), so that each
 * test has its own per-address throttling windows.
 */
function callFrom(
  localAddress: string,
  port: number,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Answer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        method,
        path: `/api/v1${path}`,
        headers,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            headers: response.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function count<T>(values: readonly T[], wanted: T): number {
  return values.filter((value) => value === wanted).length;
}

describe('HARD logins: throttling under bursts, enumeration by timing, bearer floods, SASL without initial response', () => {
  let postern: PosternProcess;
  let ca: string;
  let api: AdminHttp;
  let admin: string;

  before(async () => {
    // The bursts below open 100 connections at once from one address: let all of them
    // reach authentication (the pre-authentication caps of HARD-01 are tested elsewhere).
    postern = await PosternProcess.start({
      env: { POSTERN_MAX_UNAUTHENTICATED: '512', POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS: '512' },
    });
    ca = await postern.ca();
    api = AdminHttp.of(postern);
    admin = await api.login();
    await api.createUsers(admin, ['victim', 'bystander', 'webvictim', 'webbystander', 'flooduser']);
  });
  after(() => postern.dispose());

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  const wireLogin = async (user: string, password: string): Promise<string> => {
    const client = new pg.Client({
      host: 'localhost',
      port: postern.wirePort,
      user,
      password,
      database: 'admin/main',
      ssl: { ca, servername: 'localhost' },
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.end();
      return 'authenticated';
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).message;
      // These users have no access to admin/main: 3D000 comes only after a successful login.
      return code === '3D000' ? 'authenticated' : code;
    }
  };

  test('HARD-02: a concurrent burst of SCRAM logins for one user evaluates at most the limit; the right password late in the burst fails; another user from the same address still logs in', async (t) => {
    const burst = 100;
    const right = 90;
    const outcomes = await Promise.all(
      Array.from({ length: burst }, (_, i) =>
        wireLogin('victim', i === right ? 'victim-password' : `wrong-guess-${i}`),
      ),
    );
    // Which attempts were evaluated: the audit marks the refused ones `throttled`.
    const events = await waitFor('every attempt of the burst to be audited', async () => {
      const answer = await api.call<{
        events: Array<{ actor: string; detail: { throttled: boolean } }>;
      }>('GET', '/audit?kind=wire.login&limit=200', { token: admin });
      const mine = answer.body.events.filter((event) => event.actor === 'victim');
      return mine.length >= burst ? mine : undefined;
    });
    const evaluated = events.filter((event) => !event.detail.throttled).length;
    t.diagnostic(
      `wire burst of ${burst}: ${count(outcomes, 'authenticated')} authenticated, ${count(outcomes, '28P01')} x 28P01, ${evaluated} evaluated`,
    );
    assert.equal(count(outcomes, '28P01'), burst, 'every attempt fails, the right password too');
    assert.ok(evaluated <= WIRE_LIMIT, `${evaluated} attempts evaluated, limit ${WIRE_LIMIT}`);
    assert.equal(await wireLogin('bystander', 'bystander-password'), 'authenticated');
  });

  test('HARD-02: a concurrent burst of HTTP logins for one user admits at most the limit; the right password late in the burst gets 429; another user from the same address still logs in', async (t) => {
    const port = postern.httpPort;
    const burst = 60;
    const right = 50;
    const answers = await Promise.all(
      Array.from({ length: burst }, (_, i) =>
        callFrom('127.0.0.2', port, 'POST', '/auth/login', {
          body: {
            username: 'webvictim',
            password: i === right ? 'webvictim-password' : `wrong-guess-${i}`,
          },
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    t.diagnostic(
      `HTTP burst of ${burst}: ${count(statuses, 200)} x 200, ${count(statuses, 401)} x 401, ${count(statuses, 429)} x 429`,
    );
    assert.equal(count(statuses, 200), 0, 'the right password, past the limit, is refused');
    assert.ok(count(statuses, 401) <= HTTP_LIMIT, `${count(statuses, 401)} attempts evaluated`);
    const refused = answers.find((answer) => answer.status === 429)!;
    assert.ok(Number(refused.headers['retry-after']) > 0);
    const other = await callFrom('127.0.0.2', port, 'POST', '/auth/login', {
      body: { username: 'webbystander', password: 'webbystander-password' },
    });
    assert.equal(other.status, 200, other.body);
  });

  test('HARD-03: StartupMessage to AuthenticationSASL takes the same time for an unknown name and a user with scoped tokens', async (t) => {
    const created = await api.call('POST', '/entities/admin/tokens', {
      token: admin,
      body: { name: 'scoped', databases: ['admin/main'], maxLevel: 'read-only' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const probe = async (user: string): Promise<number> => {
      const socket = await connectTls(postern.wirePort, ca);
      const answered = new Promise<bigint>((resolve) =>
        socket.once('data', () => resolve(process.hrtime.bigint())),
      );
      const sent = process.hrtime.bigint();
      socket.write(startupMessage({ user, database: 'admin/main' }));
      const at = await answered;
      socket.destroy();
      return Number(at - sent) / 1e6;
    };
    const unknown: number[] = [];
    const existing: number[] = [];
    const warmUp = 20;
    const rounds = 200;
    for (let i = 0; i < warmUp + rounds; i++) {
      // Interleaved, in a random order each round: drift in the machine's load hits both alike.
      const unknownFirst = Math.random() < 0.5;
      const first = await probe(unknownFirst ? 'nobody-by-this-name' : 'admin');
      const second = await probe(unknownFirst ? 'admin' : 'nobody-by-this-name');
      if (i < warmUp) continue;
      unknown.push(unknownFirst ? first : second);
      existing.push(unknownFirst ? second : first);
    }
    const { pValue } = mannWhitneyU(unknown, existing);
    t.diagnostic(
      `medians: unknown ${median(unknown).toFixed(3)} ms, existing ${median(existing).toFixed(3)} ms; Mann-Whitney p = ${pValue.toExponential(3)}`,
    );
    assert.ok(pValue > 0.001, `distinguishable: p = ${pValue}`);
  });

  test('HARD-09: a flood of unknown API tokens gets 429 past the limit, a known id with a wrong secret counts too, and a login works meanwhile', async (t) => {
    const port = postern.httpPort;
    const created = await api.call<{ id: string; token: string }>(
      'POST',
      '/entities/admin/tokens',
      { token: admin, body: { name: 'flood-target' } },
    );
    assert.equal(created.status, 201);
    const base62 = (length: number) =>
      randomBytes(length * 2)
        .toString('base64')
        .replace(/[^0-9A-Za-z]/g, '')
        .slice(0, length);
    const wrongSecret = `pst_${created.body.id}_${base62(32)}`;
    const verified = await callFrom('127.0.0.3', port, 'GET', '/entities', {
      token: created.body.token,
    });
    assert.equal(verified.status, 200, verified.body);
    const flood = Array.from({ length: 200 }, (_, i) =>
      callFrom('127.0.0.3', port, 'GET', '/entities', {
        token: i % 10 === 0 ? wrongSecret : `pst_${base62(12)}_${base62(32)}`,
      }),
    );
    const login = callFrom('127.0.0.3', port, 'POST', '/auth/login', {
      body: { username: 'flooduser', password: 'flooduser-password' },
    });
    const statuses = (await Promise.all(flood)).map((answer) => answer.status);
    const loginAnswer = await login;
    t.diagnostic(`flood of 200: ${count(statuses, 401)} x 401, ${count(statuses, 429)} x 429`);
    assert.equal(loginAnswer.status, 200, loginAnswer.body);
    assert.ok(count(statuses, 401) <= BEARER_LIMIT, `${count(statuses, 401)} failures answered`);
    assert.equal(count(statuses, 401) + count(statuses, 429), 200);
    // The address is over the limit now: the known id with a wrong secret is refused unchecked.
    const after = await callFrom('127.0.0.3', port, 'GET', '/entities', { token: wrongSecret });
    assert.equal(after.status, 429);
    assert.ok(Number(after.headers['retry-after']) > 0);
    // Credentials already known to be valid still work from that address: the session the
    // login gave, and the API token verified before the flood (remembered, no bcrypt needed).
    const session = (JSON.parse(loginAnswer.body) as { token: string }).token;
    for (const token of [session, created.body.token]) {
      const valid = await callFrom('127.0.0.3', port, 'GET', '/entities', { token });
      assert.equal(valid.status, 200, valid.body);
    }
  });

  test('HARD-17: a SASLInitialResponse without initial response (length -1) gets an empty SASLContinue, then the client-first in a SASLResponse', async () => {
    const socket = await connectTls(postern.wirePort, ca);
    const stream = new MessageStream(socket);
    socket.write(startupMessage({ user: 'admin', database: 'admin/main' }));
    const offer = await stream.next();
    assert.equal(offer?.type, 'R');
    assert.equal(offer!.body.readInt32BE(0), 10, 'AuthenticationSASL');
    const scram = startScramClient({ password: ADMIN_PASSWORD, channelBinding: null });
    socket.write(message('p', Buffer.concat([Buffer.from(`${scram.mechanism}\0`), int32(-1)])));
    const empty = await stream.next();
    assert.equal(empty?.type, 'R', empty ? errorText(empty.body) : 'closed');
    assert.equal(empty!.body.readInt32BE(0), 11, 'AuthenticationSASLContinue');
    assert.equal(empty!.body.length, 4, 'with no data');
    socket.write(message('p', scram.clientFirst));
    const serverFirst = await stream.next();
    assert.equal(serverFirst?.type, 'R');
    assert.equal(serverFirst!.body.readInt32BE(0), 11);
    const final = scram.receiveServerFirst(serverFirst!.body.subarray(4).toString());
    socket.write(message('p', final.clientFinal));
    const serverFinal = await stream.next();
    assert.equal(serverFinal!.body.readInt32BE(0), 12, 'AuthenticationSASLFinal');
    final.receiveServerFinal(serverFinal!.body.subarray(4).toString());
    let last = await stream.next();
    while (last && last.type !== 'Z' && last.type !== 'E') last = await stream.next();
    assert.equal(last?.type, 'Z', 'ReadyForQuery');
    socket.destroy();
  });
});

function errorText(body: Buffer): string {
  return body.toString('utf8').replace(/\0/g, ' ');
}
