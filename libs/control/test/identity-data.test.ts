import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdentityData, RolePasswords, type LoadedRows } from '#control';

const passwords = new RolePasswords(Buffer.alloc(32, 1));
const ids = {
  alice: '00000000-0000-4000-8000-000000000001',
  bob: '00000000-0000-4000-8000-000000000002',
  acme: '00000000-0000-4000-8000-000000000003',
  gone: '00000000-0000-4000-8000-000000000004',
  db: '00000000-0000-4000-8000-0000000000d1',
  orgDb: '00000000-0000-4000-8000-0000000000d2',
  goneDb: '00000000-0000-4000-8000-0000000000d3',
};

function user(id: string, slug: string, disabled = false): LoadedRows['entities'][number] {
  return {
    id,
    kind: 'user',
    slug,
    disabled,
    scram_salt: Buffer.from('salt'),
    scram_iterations: 4096,
    stored_key: Buffer.alloc(32),
    server_key: Buffer.alloc(32),
  };
}

function database(id: string, ownerId: string, ownerSlug: string): LoadedRows['databases'][number] {
  return {
    id,
    owner_id: ownerId,
    owner_slug: ownerSlug,
    name: 'main',
    physical_name: `pdb_${id.slice(-16).replace(/-/g, '0')}`,
    writer_role: 'w',
    reader_role: 'r',
    provisioned: true,
    limits: null,
  };
}

function token(id: string, entityId: string, expiresAt: Date | null): LoadedRows['tokens'][number] {
  return {
    id,
    entity_id: entityId,
    name: id,
    bcrypt: 'x',
    stored_key: Buffer.alloc(32),
    server_key: Buffer.alloc(32),
    database_ids: null,
    max_level: null,
    expires_at: expiresAt,
    revoked_at: null,
    last_used_at: null,
    created_at: new Date(0),
  };
}

function data(overrides: Partial<LoadedRows> = {}): IdentityData {
  return new IdentityData(
    {
      entities: [
        user(ids.alice, 'alice'),
        user(ids.bob, 'bob'),
        { ...user(ids.acme, 'acme'), kind: 'organization', scram_salt: null },
        { ...user(ids.gone, 'gone', true), kind: 'organization', scram_salt: null },
      ],
      tokens: [],
      databases: [
        database(ids.db, ids.alice, 'alice'),
        database(ids.orgDb, ids.acme, 'acme'),
        database(ids.goneDb, ids.gone, 'gone'),
      ],
      grants: [],
      memberships: [],
      ...overrides,
    },
    passwords,
  );
}

describe('IdentityData: what a wire login reads from memory', () => {
  test('levels: ownership, organisation roles, grants direct and through enabled organisations', () => {
    const d = data({
      memberships: [
        { organization_id: ids.acme, user_id: ids.bob, role: 'member' },
        { organization_id: ids.gone, user_id: ids.bob, role: 'admin' },
      ],
      grants: [
        { database_id: ids.db, entity_id: ids.acme, level: 'manager' },
        { database_id: ids.orgDb, entity_id: ids.alice, level: 'read-only' },
        { database_id: ids.db, entity_id: ids.gone, level: 'manager' },
      ],
    });
    const db = d.databaseByName('alice', 'main')!;
    const orgDb = d.databaseByName('acme', 'main')!;
    const goneDb = d.databaseByName('gone', 'main')!;
    assert.equal(d.effectiveLevel(ids.alice, db), 'owner');
    assert.equal(d.effectiveLevel(ids.bob, db), 'manager', 'through acme');
    assert.equal(d.effectiveLevel(ids.bob, orgDb), 'read-write', 'member of the owner');
    assert.equal(d.effectiveLevel(ids.alice, orgDb), 'read-only');
    assert.equal(d.effectiveLevel(ids.bob, goneDb), null, 'owner disabled');
    assert.equal(d.databaseByPhysicalName(db.physicalName)?.id, ids.db);
  });

  test('a disabled organisation grants nothing; without a grant there is no level', () => {
    const d = data({
      memberships: [{ organization_id: ids.gone, user_id: ids.bob, role: 'member' }],
      grants: [{ database_id: ids.db, entity_id: ids.gone, level: 'manager' }],
    });
    assert.equal(d.effectiveLevel(ids.bob, d.databaseByName('alice', 'main')!), null);
  });

  test('candidates: expired tokens are left out, a disabled user has none, unknown names none', () => {
    const now = Date.now();
    const d = data({
      entities: [user(ids.alice, 'alice'), user(ids.bob, 'bob', true)],
      tokens: [
        token('live', ids.alice, null),
        token('later', ids.alice, new Date(now + 60_000)),
        token('expired', ids.alice, new Date(now - 1)),
        token('bobs', ids.bob, null),
      ],
    });
    assert.deepEqual(
      d.candidates('alice', now)!.tokens.map((t) => t.id),
      ['live', 'later'],
    );
    assert.deepEqual(
      d.candidates('alice', now + 120_000)!.tokens.map((t) => t.id),
      ['live'],
    );
    assert.deepEqual(d.candidates('bob', now)!.tokens, []);
    assert.equal(d.candidates('bob', now)!.user.disabled, true);
    assert.equal(d.candidates('nobody', now), null);
  });
});
