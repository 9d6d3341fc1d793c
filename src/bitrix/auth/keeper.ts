/**
 * Keeps the OAuth tokens of every installed portal fresh: a timer that refreshes an access token a margin before it
 * expires (`expires_at`, from the token answer's `expires`/`expires_in`), so calls and event handling do not first
 * meet a 401 `expired_token`, and a refresh token in use keeps rotating before its 180 days run out
 * (settings/oauth/auto-renewal.md). Refreshes go through the portal's {@link OAuthAuth} of the registry: single-flight
 * in the process, and across processes through the token store's lease (two processes on one store never both
 * refresh, so the rotated refresh token is never lost).
 *
 * The documentation advises against refreshing on a fixed schedule regardless of use; this refreshes only a token
 * that is about to expire, at most once per access-token lifetime per portal.
 */
import type { PortalRegistry } from './registry.js';

/** Options of {@link keepTokensFresh}. */
export interface TokenKeeperOptions {
  /** Refresh when the access token expires within this many seconds (default 300). */
  marginSec?: number;
  /** How often the stored records are looked at, ms (default: a fifth of the margin, between 1 s and 60 s). */
  everyMs?: number;
  /** Which portals this keeper keeps (default: every portal in the store). */
  portals?: (memberId: string) => boolean;
  /** Notices (a refresh done, a refresh that failed); never a token. */
  log?: (line: string) => void;
}

/** A running keeper. */
export interface TokenKeeper {
  /** One pass now: refreshes every portal whose token is due; resolves with the member_ids refreshed. */
  check(): Promise<string[]>;
  stop(): void;
}

/**
 * Starts the keeper over the registry's token store (every installed portal, including ones installed later).
 * A failing portal is logged and tried again on the next pass; the others go on.
 */
export function keepTokensFresh(registry: PortalRegistry, opts: TokenKeeperOptions = {}): TokenKeeper {
  const margin = opts.marginSec ?? 300;
  const every = opts.everyMs ?? Math.min(60_000, Math.max(1_000, (margin * 1000) / 5));
  const log = opts.log ?? (() => {});
  let running: Promise<string[]> | undefined;
  const pass = async (): Promise<string[]> => {
    const done: string[] = [];
    const now = Date.now() / 1000;
    for (const t of await registry.store.list()) {
      if (!t.expires_at || t.expires_at - now > margin || (opts.portals && !opts.portals(t.member_id))) continue;
      try {
        if (await registry.auth(t.member_id).refreshIfExpiring(margin)) {
          done.push(t.member_id);
          log(`oauth: refreshed the tokens of portal ${t.member_id} before they expire`);
        }
      } catch (err) {
        log(
          `oauth: cannot refresh the tokens of portal ${t.member_id} (${err instanceof Error ? err.message : String(err)})`,
        );
      }
    }
    return done;
  };
  const check = (): Promise<string[]> => {
    running ??= pass()
      .catch((err: unknown) => {
        log(`oauth: cannot read the stored tokens (${err instanceof Error ? err.message : String(err)})`);
        return [] as string[];
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void check(), every);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
