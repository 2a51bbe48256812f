import {
  BadRequestException,
  ForbiddenException,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { deriveScramVerifier } from '#auth';
import type { EntityRecord, GrantLevel, TokenRecord } from '#control';
import { ClusterService } from '../engine/cluster.service';
import { logSink } from '../logging';
import { LiveSessions } from '../sessions/live-sessions.service';
import { auditActor, requireUnscoped, type Actor } from './actor';
import { isApiTokenId, newApiToken } from './api-token-format';
import { ApiTokenVerifier } from './api-token-verifier';
import { DatabaseAccessService } from './database-access.service';
import { EntitiesService } from './entities.service';
import { compareSecret, hashSecret } from './secret-hashing';

export interface NewTokenRequest {
  readonly name: string;
  /** `owner/name` references; empty: every database the owner can reach. */
  readonly databases: readonly string[];
  readonly maxLevel: GrantLevel | null;
  readonly expiresAt: Date | null;
}

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly databases: readonly string[];
  readonly maxLevel: GrantLevel | null;
  readonly expiresAt: Date | null;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
}

/** Shown once, at creation: the only answer that carries the secret. */
export interface CreatedTokenView {
  readonly id: string;
  readonly token: string;
  readonly name: string;
  readonly databases: readonly string[];
  readonly maxLevel: GrantLevel | null;
  readonly expiresAt: Date | null;
  readonly createdAt: Date;
}

/** A live API token presented as an HTTP bearer credential, and its owner. */
export interface AuthenticatedToken {
  readonly token: TokenRecord;
  readonly owner: EntityRecord;
}

/** lastUsedAt is a hint for people, not an audit trail: one write a minute is enough. */
const TOUCH_INTERVAL_MS = 60_000;

@Injectable()
export class TokensService {
  private readonly log = logSink('Tokens');
  private readonly verifier: ApiTokenVerifier;

  constructor(
    private readonly cluster: ClusterService,
    private readonly access: DatabaseAccessService,
    private readonly entities: EntitiesService,
    private readonly sessions: LiveSessions,
  ) {
    this.verifier = new ApiTokenVerifier(
      (id) => this.cluster.control.tokens.findById(id),
      (secret, hash) => compareSecret(secret, hash),
    );
  }

  /**
   * The token gets a bcrypt hash (HTTP bearer) and a SCRAM verifier under
   * the owner's lifelong salt (wire logins), and nothing else of the secret.
   */
  async create(actor: Actor, slug: string, request: NewTokenRequest): Promise<CreatedTokenView> {
    const owner = await this.ownUser(actor, slug);
    if (request.expiresAt && request.expiresAt.getTime() <= Date.now()) {
      throw new BadRequestException('expiresAt must be in the future');
    }
    const login = await this.cluster.control.entities.findUserLogin(owner.slug);
    if (!login) throw new BadRequestException(`"${owner.slug}" is not a user`);
    const scope = await this.scope(owner, request.databases);
    const { id, token } = newApiToken();
    const record = await this.cluster.control.tokens.create({
      id,
      entityId: owner.id,
      name: request.name,
      bcrypt: await hashSecret(token),
      verifier: deriveScramVerifier(token, login.salt, login.iterations),
      databaseIds: [...scope.keys()],
      maxLevel: request.maxLevel,
      expiresAt: request.expiresAt,
    });
    await this.cluster.control.audit.record({
      kind: 'token.create',
      outcome: 'success',
      ...auditActor(actor),
      detail: { tokenId: id, owner: owner.slug, name: request.name },
    });
    const view = toView(record, scope);
    return {
      id: view.id,
      token,
      name: view.name,
      databases: view.databases,
      maxLevel: view.maxLevel,
      expiresAt: view.expiresAt,
      createdAt: view.createdAt,
    };
  }

  async list(actor: Actor, slug: string): Promise<TokenView[]> {
    const owner = await this.ownUser(actor, slug);
    const tokens = await this.cluster.control.tokens.listForEntity(owner.id);
    const ids = new Set(tokens.flatMap((t) => t.databaseIds));
    const databases = await this.cluster.control.databases.findByIds([...ids]);
    const names = new Map(databases.map((d) => [d.id, `${d.ownerSlug}/${d.name}`]));
    return tokens.map((token) => toView(token, names));
  }

  /**
   * The owner or a site admin; a scoped token may revoke itself. Its live
   * wire sessions end. Unknown and foreign tokens are the same 404.
   */
  async revoke(actor: Actor, id: string): Promise<void> {
    if (actor.tokenId !== id) requireUnscoped(actor);
    const token = isApiTokenId(id) ? await this.cluster.control.tokens.findById(id) : null;
    if (!token || (token.entityId !== actor.id && !actor.isSiteAdmin)) {
      throw new NotFoundException(`token "${id}" not found`);
    }
    if (await this.cluster.control.tokens.revoke(id)) {
      this.verifier.forget(id);
      await this.cluster.control.audit.record({
        kind: 'token.revoke',
        outcome: 'success',
        ...auditActor(actor),
        detail: { tokenId: id },
      });
    }
    await this.sessions.terminate((session) => session.tokenId === id, 'token revoked');
  }

  /**
   * A bearer `pst_...` credential (see ApiTokenVerifier: unknown ids cost no
   * bcrypt; a known id is checked only when `mayHash` allows). Revocation,
   * expiry and the owner's state are read fresh on every call.
   */
  async authenticate(
    credential: string,
    mayHash: () => boolean = () => true,
  ): Promise<AuthenticatedToken | null> {
    const token = await this.verifier.verify(credential, mayHash);
    const now = new Date();
    if (!token || token.revokedAt || (token.expiresAt && token.expiresAt <= now)) return null;
    const owner = await this.cluster.control.entities.findById(token.entityId);
    if (!owner || owner.disabled || owner.kind !== 'user') return null;
    if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
      this.cluster.control.tokens
        .touch(token.id, now)
        .catch((err: Error) => this.log.warn(`could not record token use: ${err.message}`));
    }
    return { token, owner };
  }

  /** Tokens belong to users; only the user and site admins handle them. */
  private async ownUser(actor: Actor, slug: string): Promise<EntityRecord> {
    requireUnscoped(actor);
    const owner = await this.entities.visible(actor, slug);
    if (owner.kind !== 'user') throw new BadRequestException('only users have API tokens');
    if (owner.id !== actor.id && !actor.isSiteAdmin) {
      throw new ForbiddenException("only site admins handle another user's tokens");
    }
    return owner;
  }

  /** Every database of the scope must exist and be reachable by the owner. */
  private async scope(
    owner: EntityRecord,
    references: readonly string[],
  ): Promise<Map<string, string>> {
    const scope = new Map<string, string>();
    for (const reference of references) {
      const granted = await this.access.resolveNow(owner, reference);
      if (!granted) {
        throw new BadRequestException(
          `database "${reference}" does not exist or is not visible to "${owner.slug}"`,
        );
      }
      const { database } = granted;
      scope.set(database.id, `${database.ownerSlug}/${database.name}`);
    }
    return scope;
  }
}

function toView(token: TokenRecord, names: ReadonlyMap<string, string>): TokenView {
  return {
    id: token.id,
    name: token.name,
    // A database deleted since keeps its place, so a scoped token never reads as unscoped.
    databases: token.databaseIds.map((id) => names.get(id) ?? `(deleted database ${id})`),
    maxLevel: token.maxLevel,
    expiresAt: token.expiresAt,
    createdAt: token.createdAt,
    lastUsedAt: token.lastUsedAt,
    revokedAt: token.revokedAt,
  };
}
