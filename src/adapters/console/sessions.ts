/**
 * Sessions of the web console: the port the console signs people in through ({@link ConsoleSessions}), and an
 * in-memory implementation for tests. The store's implementation is src/store/consoleSessions.ts. A session is a
 * random 256-bit cookie value (only its SHA-256 is stored), bound to a Bitrix24 user (or none: a read-only API key),
 * with its own CSRF token, and expires (default 12 h). A sign-in link is a random token (only its hash stored) that
 * works once within 10 minutes. {@link SqlConsoleSessions} keeps them in the store (tables `console_sessions`,
 * `console_links`), shared by every serve process; a link is consumed by a delete, so it is redeemed once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Store } from '../../store/index.js';

/** A signed-in session. */
export interface ConsoleSession {
  /** The Bitrix24 user it acts as; undefined: may look, may not decide. */
  userId?: string;
  csrf: string;
  expiresMs: number;
}

/** Where console sessions and sign-in links live. */
export interface ConsoleSessions {
  /** Opens a session; returns the cookie value (shown once). */
  open(userId: string | undefined, ttlMs: number): Promise<{ cookie: string; session: ConsoleSession }>;
  /** The live session of a cookie value, or undefined (unknown or expired). */
  get(cookie: string): Promise<ConsoleSession | undefined>;
  close(cookie: string): Promise<void>;
  /** Issues a one-time sign-in link token for a Bitrix24 user (valid `ttlMs`, default 10 min). */
  issueLink(userId: string, ttlMs?: number): Promise<string>;
  /** Consumes a link token: its user, or undefined when unknown, used or expired. */
  redeemLink(token: string): Promise<string | undefined>;
}

/** SHA-256 hex of a cookie or token (what is stored). */
export function secretHash(v: string): string {
  return createHash('sha256').update(`b24flow-console:${v}`).digest('hex');
}

/** A fresh random secret: 32 bytes, base64url. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Sessions in memory (tests; one process). */
export class MemoryConsoleSessions implements ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly links = new Map<string, { userId: string; expiresMs: number }>();
  async open(userId: string | undefined, ttlMs: number) {
    const cookie = newSecret();
    const session: ConsoleSession = { ...(userId ? { userId } : {}), csrf: newSecret(), expiresMs: Date.now() + ttlMs };
    this.sessions.set(secretHash(cookie), session);
    return { cookie, session };
  }
  async get(cookie: string) {
    const s = this.sessions.get(secretHash(cookie));
    return s && s.expiresMs > Date.now() ? s : undefined;
  }
  async close(cookie: string) {
    this.sessions.delete(secretHash(cookie));
  }
  async issueLink(userId: string, ttlMs = 10 * 60_000) {
    const token = newSecret();
    this.links.set(secretHash(token), { userId, expiresMs: Date.now() + ttlMs });
    return token;
  }
  async redeemLink(token: string) {
    const h = secretHash(token);
    const l = this.links.get(h);
    this.links.delete(h);
    return l && l.expiresMs > Date.now() ? l.userId : undefined;
  }
}

/** Console sessions on the database. */
export class SqlConsoleSessions implements ConsoleSessions {
  constructor(private readonly store: Store) {}

  async open(userId: string | undefined, ttlMs: number): Promise<{ cookie: string; session: ConsoleSession }> {
    const cookie = newSecret();
    const now = Date.now();
    const session: ConsoleSession = { ...(userId ? { userId } : {}), csrf: newSecret(), expiresMs: now + ttlMs };
    await this.store.db
      .insertInto('console_sessions')
      .values({
        session_hash: secretHash(cookie),
        user_id: userId ?? null,
        csrf: session.csrf,
        created_ms: now,
        expires_ms: session.expiresMs,
      })
      .execute();
    // expired sessions go when new ones come
    await this.store.db.deleteFrom('console_sessions').where('expires_ms', '<', now).execute();
    return { cookie, session };
  }

  async get(cookie: string): Promise<ConsoleSession | undefined> {
    const row = await this.store.db
      .selectFrom('console_sessions')
      .selectAll()
      .where('session_hash', '=', secretHash(cookie))
      .where('expires_ms', '>', Date.now())
      .executeTakeFirst();
    return row
      ? { ...(row.user_id ? { userId: row.user_id } : {}), csrf: row.csrf, expiresMs: Number(row.expires_ms) }
      : undefined;
  }

  async close(cookie: string): Promise<void> {
    await this.store.db.deleteFrom('console_sessions').where('session_hash', '=', secretHash(cookie)).execute();
  }

  async issueLink(userId: string, ttlMs = 10 * 60_000): Promise<string> {
    const token = newSecret();
    await this.store.db
      .insertInto('console_links')
      .values({ token_hash: secretHash(token), user_id: userId, expires_ms: Date.now() + ttlMs })
      .execute();
    return token;
  }

  async redeemLink(token: string): Promise<string | undefined> {
    const h = secretHash(token);
    const row = await this.store.db
      .selectFrom('console_links')
      .select(['user_id', 'expires_ms'])
      .where('token_hash', '=', h)
      .executeTakeFirst();
    if (!row) return undefined;
    const gone = await this.store.db.deleteFrom('console_links').where('token_hash', '=', h).executeTakeFirst();
    return Number(gone.numDeletedRows) === 1 && Number(row.expires_ms) > Date.now() ? row.user_id : undefined;
  }
}
