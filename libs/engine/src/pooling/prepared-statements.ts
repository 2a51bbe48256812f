import { createHash } from 'node:crypto';

/**
 * Protocol-level prepared statements under transaction pooling. A client
 * prepares a statement once (Parse with a name) and executes it in later
 * transactions, which may run on other upstream connections. So the
 * gateway keeps the client's statements itself and prepares each on
 * whichever connection needs it, under a name of the connection's own
 * (the client's names could collide between clients sharing a connection).
 * The same approach as PgBouncer 1.21's max_prepared_statements and PgDog.
 */

/** A client's prepared statement: what it is, independent of any connection. */
export interface ClientStatement {
  /** Equal for statements with the same text and parameter types, from any client. */
  readonly key: string;
  /** What follows the name in its Parse message (see parseDefinition). */
  readonly definition: Buffer;
  /** What executing it does to the session (judged when it is executed, not prepared). */
  readonly effects: StatementEffects;
}

/**
 * What a statement does that matters under transaction pooling when it is
 * executed, which may be in a later transaction than the one that
 * prepared it (libpq prepares in a round trip of its own; pgJDBC and
 * node-postgres reuse named statements for the whole session).
 */
export interface StatementEffects {
  /** SET, RESET, set_config(): the settings are read back after its transaction. */
  readonly changesSettings: boolean;
  /** nextval(), setval(), INSERT, COPY FROM: currval() is meaningful after it in the transaction. */
  readonly usesSequences: boolean;
  /** It calls currval() or lastval() without nextval(): the refusal when nothing used sequences before it. */
  readonly readsSequencesFirst: string | null;
  /** DEALLOCATE or DISCARD ALL|PLANS run upstream: the connection's statements are gone. */
  readonly dropsStatements: boolean;
}

export const NO_EFFECTS: StatementEffects = {
  changesSettings: false,
  usesSequences: false,
  readsSequencesFirst: null,
  dropsStatements: false,
};

/** Identifies a statement by its definition (sha-256: the text can be long; collisions are not a concern). */
export function statementKey(definition: Buffer): string {
  return createHash('sha256').update(definition).digest('base64url');
}

export type DefineOutcome = 'defined' | 'exists' | 'too-many';

/** One client's named statements, bounded so that a client cannot grow the gateway's memory without limit. */
export class ClientStatements {
  private readonly byName = new Map<string, ClientStatement>();

  constructor(private readonly capacity: number) {}

  /**
   * A Parse with `name`. A named statement that exists is an error, as in
   * PostgreSQL (42P05); the unnamed one ('') is replaced.
   */
  define(name: string, definition: Buffer, effects = NO_EFFECTS): DefineOutcome {
    if (name !== '' && this.byName.has(name)) return 'exists';
    if (!this.byName.has(name) && this.byName.size >= this.capacity) return 'too-many';
    this.byName.set(name, {
      key: statementKey(definition),
      definition: Buffer.from(definition),
      effects,
    });
    return 'defined';
  }

  get(name: string): ClientStatement | undefined {
    return this.byName.get(name);
  }

  /** Close('S') and DEALLOCATE; closing a name that does not exist is not an error. */
  close(name: string): void {
    this.byName.delete(name);
  }

  /** DEALLOCATE ALL, DISCARD ALL. */
  clear(): void {
    this.byName.clear();
  }

  get size(): number {
    return this.byName.size;
  }
}

/** What to do on a connection before a client's statement can be bound there. */
export interface Preparation {
  /** The connection's own name for the statement. */
  readonly name: string;
  /** Whether a Parse must be sent first (its ParseComplete is the gateway's, not the client's). */
  readonly parse: boolean;
  /** A statement evicted to make room: Close it first (its CloseComplete is the gateway's too). */
  readonly evicted: string | null;
}

/**
 * The statements prepared on one upstream connection, least recently used
 * first, at most `capacity` of them. Names are the gateway's
 * (`postern_<n>`), unique on the connection.
 */
export class ConnectionStatements {
  private readonly byKey = new Map<string, string>();
  private nextId = 1;

  constructor(private readonly capacity: number) {}

  /** Where `key` is or will be prepared; marks it the most recently used. */
  prepare(key: string): Preparation {
    const existing = this.byKey.get(key);
    if (existing !== undefined) {
      this.byKey.delete(key);
      this.byKey.set(key, existing);
      return { name: existing, parse: false, evicted: null };
    }
    let evicted: string | null = null;
    if (this.byKey.size >= this.capacity) {
      const [oldestKey, oldestName] = this.byKey.entries().next().value as [string, string];
      this.byKey.delete(oldestKey);
      evicted = oldestName;
    }
    const name = `postern_${this.nextId++}`;
    this.byKey.set(key, name);
    return { name, parse: true, evicted };
  }

  /** The Parse sent for `key` failed: it is not prepared here. */
  forget(key: string): void {
    this.byKey.delete(key);
  }

  /** DEALLOCATE ALL or DISCARD ran on the connection: nothing is prepared any more. */
  clear(): void {
    this.byKey.clear();
  }

  get size(): number {
    return this.byKey.size;
  }
}
