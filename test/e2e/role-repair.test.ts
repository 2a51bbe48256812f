import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ControlFixtures } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

describe('a login that sabotages its shared upstream role (issue 4)', () => {
  let postern: PosternProcess;
  let fixtures: ControlFixtures;

  before(async () => {
    postern = await PosternProcess.start();
    fixtures = await ControlFixtures.connect(postern);
    await fixtures.createUser('mallory', 'mallory-password');
    await fixtures.createUser('alice', 'alice-password');
    const main = await fixtures.database('admin', 'main');
    await fixtures.grant(main, 'mallory', 'read-only');
    await fixtures.grant(main, 'alice', 'read-only');
  });
  after(async () => {
    await fixtures.close();
    await postern.dispose();
  });

  const open = (user: string) => postern.connect({ user, password: `${user}-password` });

  test('a read-only login that changes the reader role password does not lock the others out', async () => {
    const mallory = await open('mallory');
    await mallory.query('SET default_transaction_read_only = off');
    // PostgreSQL lets any role change its own password.
    await mallory.query("ALTER ROLE CURRENT_USER PASSWORD 'locked-out'");
    // Keep mallory's session (and its upstream connection) busy, so the
    // next logins need new upstream connections with the stored password.
    const logins = await Promise.all([open('alice'), open('alice')]);
    for (const alice of logins) {
      assert.equal((await alice.query('SELECT 1 AS ok')).rows[0].ok, 1);
      await alice.end();
    }
    await mallory.end();
  });
});
