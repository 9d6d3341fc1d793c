/**
 * OAuth token storage per portal (`member_id`). Source: settings/oauth/index.md, settings/oauth/auto-renewal.md
 * (access token 1 h, refresh token 180 days, a new refresh token on every refresh — store it before using it).
 */
import { registerSecret } from '../redact.js';

/** Tokens and endpoints of one installed portal. Times are Unix seconds. */
export interface PortalTokens {
  member_id: string;
  /** Portal host, e.g. `example.bitrix24.com` (or `127.0.0.1:PORT` for the sandbox). */
  domain: string;
  /** REST endpoint of the portal, e.g. `https://example.bitrix24.com/rest/`. */
  client_endpoint: string;
  /** OAuth server REST endpoint, e.g. `https://oauth.bitrix.info/rest/`. */
  server_endpoint: string;
  access_token: string;
  refresh_token: string;
  /** When the access token expires (Unix s); 0 when unknown. */
  expires_at: number;
  scope?: string;
  application_token?: string;
  user_id?: number;
  /** When this record was written (Unix ms). */
  updated_at?: number;
}

/**
 * Storage of {@link PortalTokens}, keyed by `member_id`. Implementations must persist `set` before resolving. The
 * durable one is the store's (src/store/tokens.ts: encrypted at rest, shared by every process on the store).
 */
export interface TokenStore {
  get(memberId: string): Promise<PortalTokens | undefined>;
  set(memberId: string, tokens: PortalTokens): Promise<void>;
  delete(memberId: string): Promise<void>;
  list(): Promise<PortalTokens[]>;
  /**
   * Runs `fn` while no other process holds the same portal's refresh (a lock across processes and machines), so a
   * refresh is single-flight per member_id everywhere, not only in one process. Optional: stores of one process
   * (memory) need no lock.
   * @throws what `fn` throws
   */
  exclusive?<T>(memberId: string, fn: () => Promise<T>): Promise<T>;
}

/** Registers a record's secrets for redaction (every store does so for what it reads and writes). */
export function registerTokenSecrets(t: PortalTokens): void {
  registerSecret(t.access_token);
  registerSecret(t.refresh_token);
  registerSecret(t.application_token);
}

/** In-memory store (tests, short-lived processes). */
export class MemoryTokenStore implements TokenStore {
  private readonly map = new Map<string, PortalTokens>();
  async get(memberId: string): Promise<PortalTokens | undefined> {
    const t = this.map.get(memberId);
    return t ? { ...t } : undefined;
  }
  async set(memberId: string, tokens: PortalTokens): Promise<void> {
    registerTokenSecrets(tokens);
    this.map.set(memberId, { ...tokens, updated_at: Date.now() });
  }
  async delete(memberId: string): Promise<void> {
    this.map.delete(memberId);
  }
  async list(): Promise<PortalTokens[]> {
    return [...this.map.values()].map((t) => ({ ...t }));
  }
}
