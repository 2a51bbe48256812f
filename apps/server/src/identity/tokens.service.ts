import {
  BadRequestException,
  ForbiddenException,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { deriveScramVerifier, safeEqual } from '#auth';
import type { EntityRecord, GrantLevel, TokenRecord } from '#control';
import { ClusterService } from '../engine/cluster.service';
import { logSink } from '../logging';
import { LiveSessions } from '../wire/live-sessions.service';
import { auditActor, requireUnscoped, type Actor } from './actor';
import { apiTokenId, isApiTokenId, newApiToken } from './api-token-format';
import { DatabaseAccessService } from './database-access.service';
import { EntitiesService } from './entities.service';
import { compareSecret, hashSecret, sha256 } from './secret-hashing';

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
/** How long a bcrypt-verified token is remembered (as a SHA-256) to spare bcrypt per call. */
const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_MAX = 10_000;

@Injectable()
export class TokensService {
  private readonly log = logSink('Tokens');
  private readonly verified = new Map<string, { digest: Buffer; until: number }>();

  constructor(
    private readonly cluster: ClusterService,
    private readonly access: DatabaseAccessService,
    private readonly entities: EntitiesService,
    private readonly sessions: LiveSessions,
  ) {}

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
      this.verified.delete(id);
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
   * A bearer `pst_...` credential: looked up by id, then the whole token
   * checked against its bcrypt hash (a miss costs the same). Revocation,
   * expiry and the owner's state are read fresh on every call.
   */
  async authenticate(credential: string): Promise<AuthenticatedToken | null> {
    const id = apiTokenId(credential);
    const token = id ? await this.cluster.control.tokens.findById(id) : null;
    if (!(await this.secretMatches(credential, token))) return null;
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

  private async secretMatches(
    credential: string,
    token: (TokenRecord & { bcrypt: string }) | null,
  ): Promise<boolean> {
    const digest = sha256(credential);
    const known = token && this.verified.get(token.id);
    if (known && known.until > Date.now() && safeEqual(digest, known.digest)) return true;
    if (!(await compareSecret(credential, token?.bcrypt ?? null))) return false;
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    this.verified.set(token!.id, { digest, until: Date.now() + VERIFIED_TTL_MS });
    return true;
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
      const granted = await this.access.resolve(owner, reference);
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
