/**
 * Signing in to the web console: by an API key (one of `HTTP_API_TOKENS`; a key bound to a Bitrix24 user with
 * `key@<id>` may decide approval requests, others only look) or by a one-time link the bot sends a linked user
 * (`/console`). A session is an HttpOnly, SameSite=Strict cookie scoped to `/console` (Secure when the console is
 * served over HTTPS); every form that changes something carries the session's CSRF token, and a request from another
 * origin is refused. Wrong keys count towards the same lockout as the HTTP API's.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../../lib/http.js';
import { digest } from '../http/body.js';
import { AuthLockout } from '../http/lockout.js';
import { html, page } from './html.js';
import type { ConsoleSession, ConsoleSessions } from './sessions.js';

/** The cookie's name. */
export const COOKIE = 'b24flow_console';

/** A request's session and the cookie value it came with. */
export interface Signed {
  session: ConsoleSession;
  cookie: string;
}

/** Cookies of a request. */
function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

/** A form body (`application/x-www-form-urlencoded`), at most 16 KiB. */
export async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams((await readBody(req, 16 * 1024)).toString('utf8'));
}

/** Sends a page (no caching: pages show live state and the CSRF token). */
export function sendPage(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
    ...headers,
  });
  res.end(body);
}

/** Sign-in, sessions and CSRF of the console (see module doc). */
export class ConsoleAuth {
  private readonly lockout = new AuthLockout({});
  private readonly keys: { digest: Buffer; user?: string }[];

  constructor(
    private readonly sessions: ConsoleSessions,
    keys: ReadonlyMap<string, string | undefined>,
    private readonly o: { ttlMs?: number; secure?: boolean; log?: (l: string) => void } = {},
  ) {
    this.keys = [...keys].filter(([k]) => k).map(([k, user]) => ({ digest: digest(k), ...(user ? { user } : {}) }));
  }

  private cookieHeader(value: string, maxAgeS: number): string {
    return `${COOKIE}=${encodeURIComponent(value)}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${this.o.secure ? '; Secure' : ''}`;
  }

  /** Opens a session and redirects to the console. */
  async signIn(res: ServerResponse, user: string | undefined): Promise<void> {
    const ttl = this.o.ttlMs ?? 12 * 3600_000;
    const { cookie } = await this.sessions.open(user, ttl);
    res.writeHead(303, { location: '/console', 'set-cookie': this.cookieHeader(cookie, Math.floor(ttl / 1000)) });
    res.end();
  }

  /** Checks an API key from the sign-in form: the user it is bound to (or null: read-only), undefined when wrong. */
  keyUser(req: IncomingMessage, key: string): { user?: string } | undefined | 'locked' {
    const ip = req.socket.remoteAddress ?? '';
    const d = digest(key);
    let hit: { user?: string } | undefined;
    for (const k of this.keys) if (timingSafeEqual(k.digest, d) && key) hit = k.user ? { user: k.user } : {};
    if (hit) return hit;
    if (this.lockout.retryAfter(ip, key) > 0) return 'locked';
    this.lockout.fail(ip, key);
    this.o.log?.(`console: wrong API key from ${ip}`);
    return undefined;
  }

  /** The request's session, or undefined (not signed in, expired). */
  async session(req: IncomingMessage): Promise<Signed | undefined> {
    const cookie = cookies(req)[COOKIE];
    if (!cookie) return undefined;
    const session = await this.sessions.get(cookie);
    return session ? { session, cookie } : undefined;
  }

  /** Ends the session and clears the cookie. */
  async signOut(res: ServerResponse, s: Signed): Promise<void> {
    await this.sessions.close(s.cookie);
    res.writeHead(303, { location: '/console/login', 'set-cookie': this.cookieHeader('', 0) });
    res.end();
  }

  /**
   * True when a form that changes something may proceed: its `csrf` field equals the session's token and the request
   * does not come from another origin (the `Origin`/`Referer` host, when sent, is the request's host).
   */
  csrfOk(req: IncomingMessage, s: Signed, form: URLSearchParams): boolean {
    const origin = req.headers.origin ?? req.headers.referer;
    if (origin) {
      try {
        if (new URL(String(origin)).host !== req.headers.host) return false;
      } catch {
        return false;
      }
    }
    const given = Buffer.from(form.get('csrf') ?? '');
    const want = Buffer.from(s.session.csrf);
    return given.length === want.length && timingSafeEqual(given, want);
  }
}

/** The sign-in page (`error`: why the last attempt failed). */
export function loginPage(error?: string): string {
  return page(
    'Sign in',
    html`${error ? html`<p class="err">${error}</p>` : ''}
<p>Open the link the bot sends for <code>/console</code>, or sign in with an API key (<code>HTTP_API_TOKENS</code>).</p>
<form method="post" action="/console/login"><label>API key <input type="password" name="key" autocomplete="off" required></label>
<button>Sign in</button></form>`,
  );
}
