import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { DEFAULT_SCRAM_ITERATIONS, deriveScramVerifier, newScramSalt } from '#auth';
import { RolePasswords } from '#control';
import {
  CONTROL_DATABASE,
  newPhysicalDatabase,
  provisionDatabase,
  type ClusterEndpoint,
  type PhysicalDatabase,
} from '#engine';
import type { PosternProcess } from './postern-process';

export type GrantLevel = 'read-only' | 'read-write' | 'manager';

/** A tenant database as the control plane records it. */
export interface DatabaseFixture extends PhysicalDatabase {
  readonly id: string;
  readonly owner: string;
  readonly name: string;
}

/**
 * Direct access to a running gateway's embedded PostgreSQL as its superuser,
 * for tests: control-plane rows (users, grants, databases) without the HTTP
 * API, and "what really happened" queries in tenant databases. The gateway
 * reloads its identity data on the notification every change of these rows
 * sends, before the next login.
 */
export class ControlFixtures {
  private constructor(
    readonly endpoint: ClusterEndpoint,
    private readonly control: pg.Client,
    /** The gateway's own: tenant role passwords are derived, not stored. */
    readonly rolePasswords: RolePasswords,
  ) {}

  static async connect(postern: PosternProcess): Promise<ControlFixtures> {
    const data = path.join(postern.workDir, 'data');
    const password = (
      await readFile(path.join(data, 'secrets', 'superuser-password'), 'utf8')
    ).trim();
    const pid = (await readFile(path.join(data, 'pg', 'postmaster.pid'), 'utf8')).split('\n');
    // postmaster.pid: line 4 the port, line 5 the Unix-domain socket directory.
    const endpoint: ClusterEndpoint = {
      host: '127.0.0.1',
      port: Number(pid[3]),
      superuser: 'postgres',
      superuserPassword: password,
      ssl: false,
      tenantSocketPath: path.join(pid[4]!, `.s.PGSQL.${pid[3]}`),
    };
    const key = (await readFile(path.join(data, 'secrets', 'role-password-key'), 'utf8')).trim();
    const control = superuserClient(endpoint, CONTROL_DATABASE);
    await control.connect();
    return new ControlFixtures(endpoint, control, new RolePasswords(Buffer.from(key, 'base64url')));
  }

  async close(): Promise<void> {
    await this.control.end();
  }

  /** A user with a password, as UsersService makes one (SCRAM salt for life). */
  async createUser(slug: string, password: string): Promise<string> {
    const salt = newScramSalt();
    const { storedKey, serverKey } = deriveScramVerifier(password, salt, DEFAULT_SCRAM_ITERATIONS);
    const { rows } = await this.control.query<{ id: string }>(
      `INSERT INTO public.entity (id, kind, slug, scram_salt, scram_iterations)
       VALUES (gen_random_uuid(), 'user', $1, $2, $3) RETURNING id`,
      [slug, salt, DEFAULT_SCRAM_ITERATIONS],
    );
    const id = rows[0]!.id;
    await this.control.query(
      `INSERT INTO public.password_secret (entity_id, stored_key, server_key, bcrypt, updated_at)
       VALUES ($1, $2, $3, NULL, now())`,
      [id, storedKey, serverKey],
    );
    return id;
  }

  async grant(database: DatabaseFixture, userSlug: string, level: GrantLevel): Promise<void> {
    await this.control.query(
      `INSERT INTO public."grant" (database_id, entity_id, level)
       SELECT $1, id, $3::public."AccessLevel" FROM public.entity WHERE slug = $2
       ON CONFLICT (database_id, entity_id) DO UPDATE SET level = EXCLUDED.level`,
      [database.id, userSlug, level],
    );
  }

  /** A database the control plane already knows (e.g. `admin/main`). */
  async database(owner: string, name: string): Promise<DatabaseFixture> {
    const { rows } = await this.control.query<{
      id: string;
      physical_name: string;
      writer_role: string;
      reader_role: string;
    }>(
      `SELECT d.id, d.physical_name, d.writer_role, d.reader_role
         FROM public.database d JOIN public.entity e ON e.id = d.owner_id
        WHERE e.slug = $1 AND d.name = $2`,
      [owner, name],
    );
    const row = rows[0];
    if (!row) throw new Error(`no database ${owner}/${name}`);
    return {
      id: row.id,
      owner,
      name,
      physicalName: row.physical_name,
      writer: { role: row.writer_role, password: this.rolePasswords.of(row.writer_role) },
      reader: { role: row.reader_role, password: this.rolePasswords.of(row.reader_role) },
    };
  }

  /**
   * Provisions a new tenant database upstream (the real `provisionDatabase`)
   * and records it as provisioned, owned by `owner`.
   */
  async createDatabase(owner: string, name: string): Promise<DatabaseFixture> {
    const { physicalName, writer, reader } = newPhysicalDatabase();
    await provisionDatabase(this.endpoint, {
      physicalName,
      writer: { role: writer.role, password: this.rolePasswords.of(writer.role) },
      reader: { role: reader.role, password: this.rolePasswords.of(reader.role) },
    });
    await this.control.query(
      `INSERT INTO public.database (id, owner_id, name, physical_name, writer_role, reader_role,
                                   provisioned_at)
       SELECT gen_random_uuid(), id, $2, $3, $4, $5, now() FROM public.entity WHERE slug = $1`,
      [owner, name, physicalName, writer.role, reader.role],
    );
    return this.database(owner, name);
  }

  /** Runs `work` as superuser in `database` (a physical name), e.g. to check what changed. */
  async superuser<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = superuserClient(this.endpoint, database);
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  /**
   * Everything a tenant session could have changed, as one comparable text:
   * in the tenant database its objects with owners and ACLs, table contents,
   * sequence positions, large objects, default privileges; cluster-wide the
   * roles (attributes, password verifiers, settings, memberships), database
   * ACLs and flags, and parameter grants.
   */
  async snapshot(db: PhysicalDatabase): Promise<string> {
    const inDatabase = await this.superuser(db.physicalName, async (client) => {
      const parts: unknown[] = [];
      const objects = await client.query<{
        nspname: string;
        relname: string;
        relkind: string;
        owner: string;
        acl: string | null;
      }>(
        `SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner,
                c.relacl::text AS acl
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          ORDER BY 1, 2`,
      );
      parts.push(objects.rows);
      for (const { nspname, relname, relkind } of objects.rows) {
        const name = `${quote(nspname)}.${quote(relname)}`;
        if (nspname.startsWith('pg_')) continue; // other sessions' temporary objects
        if (relkind === 'r' || relkind === 'm') {
          const data = await client.query(
            `SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), ''))
               FROM ${name} x`,
          );
          parts.push([name, data.rows[0]]);
        } else if (relkind === 'S') {
          parts.push([
            name,
            (await client.query(`SELECT last_value, is_called FROM ${name}`)).rows,
          ]);
        }
      }
      for (const sql of [
        `SELECT nspname, pg_get_userbyid(nspowner) AS owner, nspacl::text FROM pg_namespace ORDER BY 1`,
        `SELECT p.oid::regprocedure::text AS routine, pg_get_userbyid(p.proowner) AS owner,
                p.prosecdef, p.proacl::text AS acl
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname <> 'information_schema' ORDER BY 1`,
        `SELECT m.oid::int8 AS oid, pg_get_userbyid(m.lomowner) AS owner, m.lomacl::text AS acl,
                md5(string_agg(encode(l.data, 'hex'), '' ORDER BY l.pageno)) AS content
           FROM pg_largeobject_metadata m LEFT JOIN pg_largeobject l ON l.loid = m.oid
          GROUP BY m.oid ORDER BY 1`,
        `SELECT pg_get_userbyid(defaclrole) AS role, defaclnamespace::int8, defaclobjtype,
                defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3`,
        `SELECT extname FROM pg_extension ORDER BY 1`,
        `SELECT evtname FROM pg_event_trigger ORDER BY 1`,
        `SELECT pubname FROM pg_publication ORDER BY 1`,
        `SELECT srvname FROM pg_foreign_server ORDER BY 1`,
      ]) {
        parts.push((await client.query(sql)).rows);
      }
      return parts;
    });
    const cluster = await this.superuser('postgres', async (client) => {
      const parts: unknown[] = [];
      for (const sql of [
        `SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil::text,
                md5(coalesce(rolpassword, '')) AS password
           FROM pg_authid ORDER BY 1`,
        `SELECT pg_get_userbyid(setrole) AS role, setdatabase::int8, setconfig
           FROM pg_db_role_setting ORDER BY 1, 2`,
        `SELECT pg_get_userbyid(roleid) AS role, pg_get_userbyid(member) AS member, admin_option
           FROM pg_auth_members ORDER BY 1, 2`,
        `SELECT datname, pg_get_userbyid(datdba) AS owner, datacl::text, datistemplate,
                datallowconn, datconnlimit FROM pg_database ORDER BY 1`,
        `SELECT parname, paracl::text FROM pg_parameter_acl ORDER BY 1`,
        `SELECT spcname, spcacl::text FROM pg_tablespace ORDER BY 1`,
      ]) {
        parts.push((await client.query(sql)).rows);
      }
      return parts;
    });
    return JSON.stringify({ inDatabase, cluster }, null, 1);
  }

  /** Connection settings of the superuser for `database` (tenant settings neutralised). */
  superuserConfig(database: string): pg.ClientConfig {
    return superuserConfig(this.endpoint, database);
  }

  /**
   * A client straight to the upstream (not through Postern) as one of a
   * database's roles, over the private Unix-domain socket the gateway uses
   * (the test runs as the gateway's OS user; over TCP tenant roles are refused).
   */
  upstreamClient(database: string, role: { role: string; password: string }): pg.Client {
    return new pg.Client({
      host: path.dirname(this.endpoint.tenantSocketPath!),
      port: this.endpoint.port,
      user: role.role,
      password: role.password,
      database,
    });
  }
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function superuserConfig(endpoint: ClusterEndpoint, database: string): pg.ClientConfig {
  return {
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.superuser,
    password: endpoint.superuserPassword,
    database,
    // Tenant databases may carry settings of their owner (ALTER DATABASE ... SET).
    options:
      '-c role=none -c search_path=pg_catalog,pg_temp -c statement_timeout=0 ' +
      '-c default_transaction_read_only=off -c local_preload_libraries=',
  };
}

function superuserClient(endpoint: ClusterEndpoint, database: string): pg.Client {
  return new pg.Client(superuserConfig(endpoint, database));
}
