import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminHttp, assertError } from '../support/admin-http';
import { PosternProcess } from '../support/postern-process';

const QUOTA = 3;

/**
 * HARD-06 (database quota) and HARD-16 (an organisation keeps an admin under
 * concurrent membership changes), over the HTTP API.
 */
describe('HARD identity limits', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: string;
  let users: Record<string, string>;

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_MAX_DATABASES_PER_USER: String(QUOTA) },
    });
    http = AdminHttp.of(postern);
    admin = await http.login();
    users = await http.createUsers(admin, ['quinn', 'ann', 'ben']);
  });
  after(() => postern?.dispose());

  const createDatabase = (token: string, owner: string, name: string) =>
    http.call('POST', '/databases', { token, body: { owner, name } });

  test('HARD-06 creating databases beyond POSTERN_MAX_DATABASES_PER_USER answers 403 with a message', async () => {
    const quinn = users.quinn!;
    for (let i = 0; i < QUOTA; i++) {
      const created = await createDatabase(quinn, 'quinn', `db${i}`);
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    assertError(await createDatabase(quinn, 'quinn', 'one-too-many'), 403, /quota/);
    // Concurrent attempts cannot slip past it either.
    const answers = await Promise.all(
      [1, 2, 3].map((i) => createDatabase(quinn, 'quinn', `burst${i}`)),
    );
    assert.deepEqual(
      answers.map((answer) => answer.status),
      [403, 403, 403],
    );
    // A deleted database frees its place.
    const removed = await http.call('DELETE', '/databases/quinn/db0', { token: quinn });
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    assert.equal((await createDatabase(quinn, 'quinn', 'again')).status, 201);
    // An organisation has a quota of its own, concurrency included.
    const org = await http.call('POST', '/entities', {
      token: quinn,
      body: { kind: 'organization', slug: 'quinn-org' },
    });
    assert.equal(org.status, 201, JSON.stringify(org.body));
    const orgAnswers = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => createDatabase(quinn, 'quinn-org', `o${i}`)),
    );
    assert.equal(orgAnswers.filter((answer) => answer.status === 201).length, QUOTA);
    assert.equal(orgAnswers.filter((answer) => answer.status === 403).length, 5 - QUOTA);
  });

  test('HARD-16 an organisation keeps an admin under concurrent demote and leave (30 rounds)', async () => {
    const ann = users.ann!;
    const ben = users.ben!;
    const put = (token: string, org: string, user: string, role: string) =>
      http.call('PUT', `/entities/${org}/members/${user}`, { token, body: { role } });
    const leave = (token: string, org: string, user: string) =>
      http.call('DELETE', `/entities/${org}/members/${user}`, { token });
    const races: ReadonlyArray<(org: string) => Promise<unknown>[]> = [
      (org) => [put(ann, org, 'ben', 'member'), leave(ann, org, 'ann')],
      (org) => [leave(ann, org, 'ann'), leave(ben, org, 'ben')],
      (org) => [put(ann, org, 'ben', 'member'), put(ben, org, 'ann', 'member')],
    ];
    for (let round = 0; round < 30; round++) {
      const org = `race-${round}`;
      const created = await http.call('POST', '/entities', {
        token: ann,
        body: { kind: 'organization', slug: org },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal((await put(ann, org, 'ben', 'admin')).status, 200);
      const answers = (await Promise.all(races[round % races.length]!(org))) as Array<{
        status: number;
      }>;
      // The loser of a race may find itself no longer an admin (403) or no longer a member (404).
      for (const answer of answers) {
        assert.ok([200, 204, 403, 404, 409].includes(answer.status), JSON.stringify(answer));
      }
      const detail = await http.call<{ members: Array<{ user: string; role: string }> }>(
        'GET',
        `/entities/${org}`,
        { token: admin },
      );
      assert.equal(detail.status, 200, JSON.stringify(detail.body));
      const admins = detail.body.members.filter((member) => member.role === 'admin');
      assert.ok(admins.length >= 1, `round ${round}: ${JSON.stringify(detail.body.members)}`);
    }
  });
});
