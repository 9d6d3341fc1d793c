/**
 * OAuth tokens in the store (issue 12): one `tokens` row per portal (`member_id`), the record sealed with AES-256-GCM
 * (node:crypto) under the store key, so the database file or a dump never shows a token. The key is 32 bytes:
 * `B24FLOW_STORE_KEY` (base64; src/cli reads it, it wins) or the local key file `<dataDir>/store-key` (created 0600 on
 * first use). Several machines on one PostgreSQL must share the key (set `B24FLOW_STORE_KEY` on each).
 *
 * Sealed form: `v1.<base64(iv[12] ‖ tag[16] ‖ ciphertext)>`; the portal's member_id is the additional authenticated
 * data, so a row copied under another portal's id does not open. A row that does not open (another key) fails with an
 * error naming the portal, never the token.
 *
 * Refresh across processes: {@link StoreTokenStore.exclusive} holds a named lease (`leases` row
 * `oauth-refresh:<member_id>`) around a refresh, so one process refreshes and the others, once the lease is free,
 * find the rotated record (src/bitrix/auth/oauth.ts re-reads the store before refreshing).
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type PortalTokens, registerTokenSecrets, type TokenStore } from '../bitrix/auth/tokenStore.js';
import { RuntimeFailure } from '../lib/failures.js';
import type { Store } from './db.js';

/** Name of the local key file in the data directory. */
export const STORE_KEY_FILE = 'store-key';

/**
 * The store key: `envKey` (base64 of 32 bytes, from `B24FLOW_STORE_KEY`) when given, else `<dataDir>/store-key`,
 * created with 32 random bytes (0600) when missing. Creation is race-free: the bytes are written to a private
 * temporary file which is then hard-linked to the final name (`link` fails when another process won, and the winner's
 * file is complete by then), so no process ever reads a half-written key.
 * @throws RuntimeFailure when `envKey` is not 32 bytes of base64, or the key file is not 32 bytes
 */
export async function loadStoreKey(dataDir: string, envKey?: string): Promise<Buffer> {
  if (envKey?.trim()) {
    const key = Buffer.from(envKey.trim(), 'base64');
    if (key.length !== 32)
      throw new RuntimeFailure(
        `B24FLOW_STORE_KEY must be 32 bytes in base64 (got ${key.length} bytes); create one with: openssl rand -base64 32`,
      );
    return key;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, STORE_KEY_FILE);
  let key = readKey(file);
  if (!key) {
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(32));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
    key = readKey(file);
  }
  if (key?.length !== 32) throw new RuntimeFailure(`the store key ${file} is not 32 bytes; restore it`);
  return key;
}

function readKey(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Seals a record for portal `memberId` (see module doc). */
export function sealTokens(key: Buffer, memberId: string, tokens: PortalTokens): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(memberId, 'utf8'));
  const body = Buffer.concat([c.update(JSON.stringify(tokens), 'utf8'), c.final()]);
  return `v1.${Buffer.concat([iv, c.getAuthTag(), body]).toString('base64')}`;
}

/**
 * Opens a sealed record of portal `memberId`.
 * @throws RuntimeFailure naming the portal (never the token) when the row does not open with this key
 */
export function openTokens(key: Buffer, memberId: string, sealed: string): PortalTokens {
  try {
    if (!sealed.startsWith('v1.')) throw new Error('unknown format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAAD(Buffer.from(memberId, 'utf8'));
    d.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    const t = JSON.parse(text) as PortalTokens;
    registerTokenSecrets(t);
    return t;
  } catch {
    throw new RuntimeFailure(
      `cannot decrypt the stored OAuth tokens of portal ${memberId}: they were sealed with another store key ` +
        `(B24FLOW_STORE_KEY, or ${STORE_KEY_FILE} in the data directory); use the same key on every machine, ` +
        'or install the application again',
    );
  }
}

/** Options of {@link StoreTokenStore}. */
export interface StoreTokenOptions {
  /** How long a refresh may hold the portal's lease before another process may take it over, ms (default 30 000). */
  refreshLeaseMs?: number;
  /** How long to wait for another process's refresh, ms (default 40 000). */
  waitMs?: number;
}

/** The token store on the database (see module doc). */
export class StoreTokenStore implements TokenStore {
  private readonly holder = `${hostname()}:${process.pid}:${randomUUID()}`;

  /** @param key the store key ({@link loadStoreKey}) */
  constructor(
    private readonly store: Store,
    private readonly key: Buffer,
    private readonly opts: StoreTokenOptions = {},
  ) {}

  async get(memberId: string): Promise<PortalTokens | undefined> {
    const row = await this.store.db
      .selectFrom('tokens')
      .select('sealed')
      .where('member_id', '=', memberId)
      .executeTakeFirst();
    return row ? openTokens(this.key, memberId, row.sealed) : undefined;
  }

  async set(memberId: string, tokens: PortalTokens): Promise<void> {
    registerTokenSecrets(tokens);
    const now = Date.now();
    const sealed = sealTokens(this.key, memberId, { ...tokens, updated_at: now });
    await this.store.db
      .insertInto('tokens')
      .values({ member_id: memberId, sealed, updated_ms: now })
      .onConflict((oc) => oc.column('member_id').doUpdateSet({ sealed, updated_ms: now }))
      .execute();
  }

  async delete(memberId: string): Promise<void> {
    await this.store.db.deleteFrom('tokens').where('member_id', '=', memberId).execute();
  }

  async list(): Promise<PortalTokens[]> {
    const rows = await this.store.db
      .selectFrom('tokens')
      .select(['member_id', 'sealed'])
      .orderBy('member_id')
      .execute();
    return rows.map((r) => openTokens(this.key, r.member_id, r.sealed));
  }

  /**
   * Runs `fn` holding the portal's refresh lease (a `leases` row taken with one upsert that only overwrites an expired
   * lease): other processes wait for it, then read the rotated record.
   * @throws RuntimeFailure when another holder keeps the lease past `waitMs`; what `fn` throws
   */
  async exclusive<T>(memberId: string, fn: () => Promise<T>): Promise<T> {
    const name = `oauth-refresh:${memberId}`;
    const leaseMs = this.opts.refreshLeaseMs ?? 30_000;
    const deadline = Date.now() + (this.opts.waitMs ?? 40_000);
    for (let delay = 20; ; delay = Math.min(250, delay * 2)) {
      const now = Date.now();
      const res = await this.store.db
        .insertInto('leases')
        .values({ name, holder: this.holder, until_ms: now + leaseMs })
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({ holder: this.holder, until_ms: now + leaseMs })
            .where('leases.until_ms', '<', now),
        )
        .executeTakeFirst();
      if (Number(res.numInsertedOrUpdatedRows ?? 0) > 0) break;
      if (Date.now() > deadline)
        throw new RuntimeFailure(`another process has been refreshing the tokens of portal ${memberId} for too long`);
      await new Promise((r) => setTimeout(r, delay));
    }
    try {
      return await fn();
    } finally {
      await this.store.db
        .deleteFrom('leases')
        .where('name', '=', name)
        .where('holder', '=', this.holder)
        .execute()
        .catch(() => {});
    }
  }
}
