import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterService } from '../src/engine/cluster.service';
import { LiveSessions, type LiveSessionInfo } from '../src/sessions/live-sessions.service';

const caps = { total: 3, perUser: 2, perDatabase: 0 };

function session(id: number, userId: string, databaseId: string): LiveSessionInfo {
  return {
    id,
    userId,
    user: userId,
    databaseId,
    database: databaseId,
    level: 'owner',
    tokenId: null,
    clientAddress: '127.0.0.1',
    applicationName: '',
    tlsVersion: null,
    authMethod: 'SCRAM-SHA-256',
    startedAt: new Date(),
  };
}

const sessions = () => new LiveSessions({} as ClusterService);

describe('LiveSessions.reserve (HARD-13)', () => {
  test('reservations count like sessions, so back-to-back logins cannot overshoot a cap', () => {
    const live = sessions();
    const first = live.reserve('u1', 'd1', caps);
    const second = live.reserve('u1', 'd1', caps);
    assert.ok('release' in first && 'release' in second);
    assert.deepEqual(live.reserve('u1', 'd1', caps), { full: 'user' });
    assert.ok('release' in live.reserve('u2', 'd1', caps));
    assert.deepEqual(live.reserve('u3', 'd1', caps), { full: 'total' });
  });

  test('a released reservation frees its place; a registered session keeps it', () => {
    const live = sessions();
    const reserved = live.reserve('u1', 'd1', { ...caps, perDatabase: 1 });
    assert.ok('release' in reserved);
    assert.deepEqual(live.reserve('u2', 'd1', { ...caps, perDatabase: 1 }), { full: 'database' });
    live.add(session(1, 'u1', 'd1'), { close: () => undefined, retire: () => null });
    reserved.release();
    assert.deepEqual(live.reserve('u2', 'd1', { ...caps, perDatabase: 1 }), { full: 'database' });
    assert.ok('release' in live.reserve('u2', 'd2', { ...caps, perDatabase: 1 }));
  });
});

describe('LiveSessions: ids are upstream backend pids', () => {
  test('terminating a session retires its upstream connection before anything is awaited', () => {
    const live = sessions();
    let retired = 0;
    live.add(session(7, 'u1', 'd1'), { close: () => undefined, retire: () => retired++ });
    live.add(session(8, 'u2', 'd1'), { close: () => undefined, retire: () => retired++ });
    // The cluster is not reachable here: terminateBackends fails, which is logged.
    void live.terminate((s) => s.id === 7, 'test');
    assert.equal(retired, 1, 'the pid being terminated cannot pass to the next client');
  });

  test('a later session on the same upstream connection keeps its id when the earlier one unregisters late', () => {
    const live = sessions();
    const control = { close: () => undefined, retire: () => null };
    const unregisterFirst = live.add(session(9, 'u1', 'd1'), control);
    live.add(session(9, 'u2', 'd1'), control);
    unregisterFirst();
    assert.equal(live.get(9)?.userId, 'u2');
  });
});

describe('LiveSessions.infos (issue 14: counts over idle sessions copy nothing)', () => {
  test('yields the stored info of each established session, and no longer once it ended', () => {
    const live = sessions();
    const first = session(1, 'u1', 'd1');
    const end = live.add(first, { close: () => undefined, retire: () => null });
    live.add(session(2, 'u2', 'd2'), { close: () => undefined, retire: () => null });
    live.update(1, { state: 'active', query: 'select 1', queryStartedAt: new Date() });
    const infos = [...live.infos()];
    assert.deepEqual(
      infos.map((info) => info.id),
      [1, 2],
    );
    assert.equal(infos[0], first, 'the stored object, not a copy');
    end();
    assert.deepEqual(
      [...live.infos()].map((info) => info.id),
      [2],
    );
  });
});
