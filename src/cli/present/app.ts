/**
 * What `b24flow app` prints (flag parsing lives in src/cli/commands/app.ts): the URLs to paste into the portal's
 * local-application form (settings/app-installation/local-apps/installation-callback.md, installation-master.md)
 * and the portals that installed the application — member_id, domain, when the access token expires, whether the
 * application token is known, and the events bound there (`event.get`, asked of each portal). Never a token, the
 * client secret or the client id.
 */
import type { PortalTokens } from '../../bitrix/auth/tokenStore.js';
import { redact } from '../../lib/redact.js';
import { readSettings } from '../compose.js';
import { appUrls, publicUrlOf } from '../publicUrl.js';
import { jsonText } from './jsonOut.js';

/** One installed portal as `app --json` shows it. */
export interface InstalledPortal {
  memberId: string;
  domain: string;
  /** When the access token expires (ISO 8601), null when unknown. */
  tokenExpiresAt: string | null;
  /** Seconds until then (negative: expired; it is refreshed on the next call), null when unknown. */
  tokenExpiresIn: number | null;
  /** Whether the application token of its events is stored (online events are verified with it). */
  applicationToken: boolean;
  /** The events bound there (`event.get`), null when not asked or the portal did not answer (see `eventsError`). */
  events: { event: string; type: 'online' | 'offline'; handler?: string }[] | null;
  eventsError?: string;
}

/** What `app --json` prints. */
export interface AppReport {
  /** The public URL of serve, null when neither `--public-url` nor `B24FLOW_PUBLIC_URL` is set. */
  publicUrl: string | null;
  /** "Your handler path", "Initial installation path" and the event endpoint; null without a public URL. */
  urls: { handler: string; install: string; events: string } | null;
  /** Whether `B24_CLIENT_ID` and `B24_CLIENT_SECRET` are set (serve can then take installs). */
  configured: boolean;
  portals: InstalledPortal[];
}

/** How long one portal may take to answer `event.get`, ms. */
const EVENTS_TIMEOUT_MS = 10_000;

/**
 * Builds the report and renders it (text or `--json`).
 * @throws InvalidInputError for a malformed public URL; what opening the store throws
 */
export async function appCommand(o: { publicUrl?: string; events: boolean; json: boolean }): Promise<string> {
  const settings = readSettings();
  const { env } = settings;
  const publicUrl = publicUrlOf(o.publicUrl ?? env.B24FLOW_PUBLIC_URL);
  const configured = !!(env.B24_CLIENT_ID && env.B24_CLIENT_SECRET);
  const portals = configured ? await installedPortals(env, o.events) : [];
  const report: AppReport = {
    publicUrl: publicUrl ?? null,
    urls: publicUrl ? appUrls(publicUrl) : null,
    configured,
    portals,
  };
  return o.json ? jsonText(report) : render(report);
}

/** The installed portals of the configured application, with their bindings when `events`. */
async function installedPortals(env: NodeJS.ProcessEnv, events: boolean): Promise<InstalledPortal[]> {
  const { portalSettings, portalStores, sharedLimiter } = await import('../compose.js');
  const ps = portalSettings(env);
  const stores = await portalStores(env);
  const tokenStore = await stores.tokens();
  const records = await tokenStore.list();
  const now = Date.now() / 1000;
  const out: InstalledPortal[] = records.map((t) => describe(t, now));
  if (!events || !ps?.oauth || !records.length) return out;
  const { registryFor, clientForPortal } = await import('../../bitrix/connect.js');
  const registry = registryFor(ps.oauth.app, tokenStore);
  const limiter = sharedLimiter(ps.limiter ?? {}, stores, () => {});
  await Promise.all(
    out.map(async (p) => {
      const client = clientForPortal(registry, p.memberId, {
        audit: false,
        limiter,
        v3Memory: stores.v3Memory,
        ...(ps.ca ? { ca: ps.ca } : {}),
      });
      let timer: NodeJS.Timeout | undefined;
      try {
        const answer = await Promise.race([
          client.call('event.get', {}),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('no answer within 10 s')), EVENTS_TIMEOUT_MS);
          }),
        ]);
        const rows = (Array.isArray(answer.result) ? answer.result : []) as Record<string, unknown>[];
        p.events = rows.map((b) => ({
          event: String(b.event ?? ''),
          type: Number(b.offline) ? 'offline' : 'online',
          ...(!Number(b.offline) && b.handler ? { handler: String(b.handler) } : {}),
        }));
      } catch (err) {
        p.eventsError = redact(err instanceof Error ? err.message : String(err));
      } finally {
        clearTimeout(timer);
        await client.close();
      }
    }),
  );
  return out;
}

function describe(t: PortalTokens, nowSec: number): InstalledPortal {
  return {
    memberId: t.member_id,
    domain: t.domain,
    tokenExpiresAt: t.expires_at ? new Date(t.expires_at * 1000).toISOString() : null,
    tokenExpiresIn: t.expires_at ? Math.round(t.expires_at - nowSec) : null,
    applicationToken: !!t.application_token,
    events: null,
  };
}

function inWords(s: number): string {
  const a = Math.abs(s);
  const span = a < 120 ? `${a} s` : a < 7200 ? `${Math.round(a / 60)} min` : `${Math.round(a / 3600)} h`;
  return s >= 0 ? `in ${span}` : `${span} ago`;
}

function render(r: AppReport): string {
  const at = r.urls;
  const lines = [
    "The portal's local application form (Developer resources → Other → Local application, server-side):",
    `  Your handler path:          ${at ? at.handler : '<public URL>/bitrix/app'}`,
    `  Initial installation path:  ${at ? at.install : '<public URL>/bitrix/install'}`,
    '  Script only (no user interface): either works. With an interface, open the application once after serve runs:',
    '  the install page finishes the install. Script only: the portal posts the install when the form is saved.',
    '  Permissions: the scopes your pipelines use (crm, task, user, …).',
  ];
  if (!r.publicUrl)
    lines.push(
      '  The public URL is not set: pass --public-url https://… (or set B24FLOW_PUBLIC_URL), the address the portal',
      '  reaches `b24flow serve` at (the portal refuses localhost; put a reverse proxy or tunnel in front).',
    );
  if (!r.configured) {
    lines.push(
      '',
      'Then set the application code (client_id) and key (client_secret) the portal shows as B24_CLIENT_ID and',
      'B24_CLIENT_SECRET on this machine, run `b24flow serve --public-url …`, and install the application (open it',
      'once; a "Script only" application installs when the form is saved, so serve must run by then, or reinstall).',
    );
    return `${lines.join('\n')}\n`;
  }
  lines.push('', r.portals.length ? `Installed on ${r.portals.length} portal(s):` : 'Not installed on any portal yet.');
  for (const p of r.portals) {
    lines.push(`  ${p.memberId}  ${p.domain}`);
    lines.push(
      `    access token expires ${p.tokenExpiresAt ?? 'at an unknown time'}${p.tokenExpiresIn !== null ? ` (${inWords(p.tokenExpiresIn)})` : ''}; ` +
        `application token ${p.applicationToken ? 'known' : 'not known yet (online events are refused until it is)'}`,
    );
    if (p.events)
      lines.push(
        `    events: ${
          p.events.length
            ? p.events.map((e) => `${e.event} (${e.type}${e.handler ? ` → ${e.handler}` : ''})`).join(', ')
            : 'none bound'
        }`,
      );
    else if (p.eventsError) lines.push(`    events: unknown (${p.eventsError})`);
  }
  return `${lines.join('\n')}\n`;
}
