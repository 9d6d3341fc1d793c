/**
 * OAuth token storage per portal (`member_id`). Source: settings/oauth/index.md, settings/oauth/auto-renewal.md
 * (access token 1 h, refresh token 180 days, a new refresh token on every refresh — store it before using it).
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../lib/atomic.js';
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

/** Storage of {@link PortalTokens}, keyed by `member_id`. Implementations must persist `set` before resolving. */
export interface TokenStore {
  get(memberId: string): Promise<PortalTokens | undefined>;
  set(memberId: string, tokens: PortalTokens): Promise<void>;
  delete(memberId: string): Promise<void>;
  list(): Promise<PortalTokens[]>;
}

function registerAll(t: PortalTokens): void {
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
    registerAll(tokens);
    this.map.set(memberId, { ...tokens, updated_at: Date.now() });
  }
  async delete(memberId: string): Promise<void> {
    this.map.delete(memberId);
  }
  async list(): Promise<PortalTokens[]> {
    return [...this.map.values()].map((t) => ({ ...t }));
  }
}

interface FileShape {
  version: 1;
  portals: Record<string, PortalTokens>;
}

/**
 * File-backed store: one JSON file (default `$B24FLOW_DATA_DIR/tokens.json`, else `./data/tokens.json`), written
 * atomically (temp file + fsync + rename) with mode 0600. Every read goes to the file, so several processes see each
 * other's rotations.
 */
export class FileTokenStore implements TokenStore {
  readonly path: string;
  private chain: Promise<unknown> = Promise.resolve();

  /** @param path file path (the composition root passes `tokens.json` in the data directory, or `B24_TOKEN_FILE`) */
  constructor(path: string) {
    this.path = path;
  }

  private async read(): Promise<FileShape> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err: any) {
      if (err?.code === 'ENOENT') return { version: 1, portals: {} };
      throw err;
    }
    const data = JSON.parse(text) as FileShape;
    if (!data || typeof data !== 'object' || !data.portals) return { version: 1, portals: {} };
    for (const t of Object.values(data.portals)) registerAll(t);
    return data;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  async get(memberId: string): Promise<PortalTokens | undefined> {
    return this.serial(async () => (await this.read()).portals[memberId]);
  }

  async set(memberId: string, tokens: PortalTokens): Promise<void> {
    registerAll(tokens);
    await this.serial(async () => {
      const data = await this.read();
      data.portals[memberId] = { ...tokens, updated_at: Date.now() };
      await writeFileAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`, 0o600);
    });
  }

  async delete(memberId: string): Promise<void> {
    await this.serial(async () => {
      const data = await this.read();
      delete data.portals[memberId];
      await writeFileAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`, 0o600);
    });
  }

  async list(): Promise<PortalTokens[]> {
    return this.serial(async () => Object.values((await this.read()).portals));
  }
}
