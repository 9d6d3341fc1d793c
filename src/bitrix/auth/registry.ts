/**
 * Multi-portal registry: one {@link OAuthAuth} per `member_id` per process, so that every transport (REST v2,
 * REST 3.0, batch) and every client for a portal share one token record and one single-flight refresh — and no
 * client can be handed another portal's credentials.
 */
import { type OAuthApp, OAuthAuth } from './oauth.js';
import type { PortalTokens, TokenStore } from './tokenStore.js';

export class PortalRegistry {
  private readonly auths = new Map<string, OAuthAuth>();

  constructor(
    readonly app: OAuthApp,
    readonly store: TokenStore,
  ) {}

  /** The shared auth provider of a portal. */
  auth(memberId: string): OAuthAuth {
    let a = this.auths.get(memberId);
    if (!a) {
      a = new OAuthAuth(memberId, this.app, this.store);
      this.auths.set(memberId, a);
    }
    return a;
  }

  /** Stores the tokens of a (re)installed portal (install callback / `ONAPPINSTALL`) and resets its cached record. */
  async install(tokens: PortalTokens): Promise<OAuthAuth> {
    if (!tokens.member_id) throw new Error('install: tokens without member_id');
    await this.store.set(tokens.member_id, tokens);
    const a = this.auth(tokens.member_id);
    a.invalidate();
    return a;
  }

  /** member_ids with stored tokens. */
  async portals(): Promise<string[]> {
    return (await this.store.list()).map((t) => t.member_id);
  }
}
