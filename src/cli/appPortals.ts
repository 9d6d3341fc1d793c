/**
 * The installed portals of the configured OAuth application, for a `serve` that serves all of them (issue 12): one
 * client per portal (`member_id` row of the store's token store), each drawing from its own portal's shared bucket in
 * the store, and its offline worker state named per portal. Webhook and embedded-sandbox modes serve one portal and
 * do not use this.
 */
import type { TokenKeeper } from '../bitrix/auth/keeper.js';
import type { B24Client, CallObserver } from '../bitrix/client.js';
import { InvalidInputError } from '../lib/failures.js';
import type { InstallVerifier } from '../triggers/install.js';
import type { ServedPortal } from '../triggers/service.js';
import { portalSettings, portalStores, type Settings, sharedLimiter } from './compose.js';
import { auditMaxBytesOf } from './logSizes.js';
import { openTriggerStores } from './triggerStores.js';

/** The portals of an OAuth application as the trigger service reads them, and one `close()` for their clients. */
export interface AppPortals {
  /** The installed portals now (tokens in the store), the same client per portal on every call. */
  list(): Promise<ServedPortal[]>;
  /** Verifies an install through the OAuth server and stores the portal's tokens (src/triggers/install.ts). */
  verifyInstall: InstallVerifier;
  /** The refresh-before-expiry timer over every installed portal (stopped by `close()`). */
  keeper: TokenKeeper;
  /** Closes every client made here and stops the keeper. */
  close(): Promise<void>;
}

/**
 * Seconds before expiry at which the keeper refreshes an access token: `B24FLOW_TOKEN_REFRESH_MARGIN_S` (default
 * 300).
 * @throws InvalidInputError for a value that is not a number ≥ 1
 */
export function refreshMarginOf(env: NodeJS.ProcessEnv): number {
  const v = env.B24FLOW_TOKEN_REFRESH_MARGIN_S;
  if (v === undefined || v === '') return 300;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 1)
    throw new InvalidInputError(`B24FLOW_TOKEN_REFRESH_MARGIN_S must be a number of seconds ≥ 1, got "${v}"`);
  return n;
}

/**
 * The OAuth application's installed portals when `serve` runs as an OAuth application (`B24_CLIENT_ID` and
 * `B24_CLIENT_SECRET`, no webhook, no `B24_MEMBER_ID` pinning one portal); undefined otherwise. Installs are verified
 * at `B24_OAUTH_TOKEN_URL` (default the Bitrix24 OAuth server), and the tokens of every installed portal are kept
 * fresh ({@link refreshMarginOf}).
 * @param main the default portal whose client the caller already has (it is listed with that client); undefined when
 *   no portal had installed the application when serve started
 * @param onCall told every HTTP exchange of the further portals' clients (serve's metrics)
 * @throws InvalidInputError for a bad `B24_PLAN`, `B24FLOW_TOKEN_REFRESH_MARGIN_S` or `B24FLOW_AUDIT_MAX_MB`
 */
export async function appPortals(
  settings: Settings,
  main: { memberId: string; client: B24Client } | undefined,
  say: (line: string) => void,
  onCall?: CallObserver,
): Promise<AppPortals | undefined> {
  const { env } = settings;
  const ps = portalSettings(env);
  if (!ps?.oauth || ps.webhookUrl || env.B24_MEMBER_ID) return undefined;
  const stores = await portalStores(env);
  const tokenStore = await stores.tokens();
  const margin = refreshMarginOf(env);
  const { registryFor, clientForPortal } = await import('../bitrix/connect.js');
  const { keepTokensFresh } = await import('../bitrix/auth/keeper.js');
  const { appInstallVerifier } = await import('../triggers/install.js');
  const { FileAudit } = await import('../bitrix/audit.js');
  const { join } = await import('node:path');
  const registry = registryFor(ps.oauth.app, tokenStore);
  const limiter = sharedLimiter(ps.limiter ?? {}, stores, say);
  // one audit sink for the further portals' clients (the default portal's client has its own, same file)
  const audit = new FileAudit(join(ps.dataDir, 'audit', 'calls.jsonl'), { maxBytes: auditMaxBytesOf(env) });
  const served = new Map<string, ServedPortal>();
  const made: B24Client[] = [];
  const keeper = keepTokensFresh(registry, { marginSec: margin, log: say });
  return {
    verifyInstall: appInstallVerifier(registry),
    keeper,
    list: async () => {
      for (const t of await tokenStore.list()) {
        const known = served.get(t.member_id);
        if (known) {
          if (t.application_token) known.applicationToken = t.application_token;
          continue;
        }
        let client = main?.client;
        if (!client || t.member_id !== main?.memberId) {
          client = clientForPortal(registry, t.member_id, {
            audit,
            limiter,
            v3Memory: stores.v3Memory,
            ...(ps.ca ? { ca: ps.ca } : {}),
            ...(onCall ? { onCall } : {}),
          });
          made.push(client);
        }
        const { offline } = await openTriggerStores(settings, { offlineName: `offline:${client.portal.id}` });
        served.set(t.member_id, {
          memberId: t.member_id,
          client,
          offline,
          ...(t.application_token ? { applicationToken: t.application_token } : {}),
        });
      }
      return [...served.values()];
    },
    close: async () => {
      keeper.stop();
      await Promise.all(made.map((c) => c.close()));
      await audit.close();
    },
  };
}

/**
 * The portal a multi-portal `serve` treats as its default (schedules, the chat API, `/healthz`): `B24_MEMBER_ID`, else
 * the first installed portal in member_id order (every process on one store picks the same one); undefined when the
 * application is not configured or no portal is installed.
 */
export async function defaultAppPortal(settings: Settings): Promise<string | undefined> {
  const ps = portalSettings(settings.env);
  if (!ps?.oauth || ps.webhookUrl) return undefined;
  if (settings.env.B24_MEMBER_ID) return settings.env.B24_MEMBER_ID;
  const ids = (await (await (await portalStores(settings.env)).tokens()).list()).map((t) => t.member_id).sort();
  return ids[0];
}

/**
 * The refresh-before-expiry timer of a `serve` pinned to one portal (`B24_MEMBER_ID`) of an OAuth application, which
 * does not serve the others ({@link appPortals} keeps every portal fresh otherwise); undefined without an
 * OAuth application.
 * @throws InvalidInputError for a bad `B24FLOW_TOKEN_REFRESH_MARGIN_S`
 */
export async function keepPinnedPortalFresh(
  settings: Settings,
  say: (line: string) => void,
): Promise<TokenKeeper | undefined> {
  const ps = portalSettings(settings.env);
  if (!ps?.oauth || ps.webhookUrl) return undefined;
  const margin = refreshMarginOf(settings.env);
  const tokenStore = await (await portalStores(settings.env)).tokens();
  const { registryFor } = await import('../bitrix/connect.js');
  const { keepTokensFresh } = await import('../bitrix/auth/keeper.js');
  const only = ps.oauth.memberId;
  // a pinned serve refreshes only its own portal
  return keepTokensFresh(registryFor(ps.oauth.app, tokenStore), {
    marginSec: margin,
    log: say,
    ...(only ? { portals: (m: string) => m === only } : {}),
  });
}
