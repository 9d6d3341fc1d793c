/**
 * The HTTP view of a running sandbox: its /sandbox/* control client and the OAuth install flow (authorize → token;
 * apidocs.bitrix24.com/settings/oauth/index.html, doc settings/oauth/index.md), built from its address alone. The
 * process that starts a sandbox uses it for its own handle (start.ts); another process uses it to share a sandbox
 * it did not start (the CLI's embedded sandbox, one per data directory).
 */
import { readFileSync } from 'node:fs';
import { registerSecret } from '../lib/redact.js';
import type { OAuthTokens, SandboxAddress, SandboxAdmin, SandboxEndpoint } from './handle.js';

/** Hooks of the process that runs the portal in-process (start.ts). */
export interface EndpointHooks {
  /**
   * Called after a successful install with the token answer's `user_id` and the install options: the starting
   * process delivers ONAPPINSTALL from its in-process portal.
   */
  installed?(userId: number, opts: { handler?: string; userId?: number }): void;
}

/**
 * The endpoint of a sandbox at `addr`; its credentials are registered with the redactor (they are this process's
 * secrets too).
 */
export async function sandboxEndpoint(addr: SandboxAddress, hooks: EndpointHooks = {}): Promise<SandboxEndpoint> {
  const { baseUrl, oauthApp: oauth } = addr;
  registerSecret(/\/rest\/\d+\/([^/]+)/.exec(addr.webhookUrl)?.[1]);
  registerSecret(oauth.clientSecret);
  registerSecret(oauth.applicationToken);
  const dispatcher = addr.caFile ? await tlsDispatcher(addr.caFile) : undefined;
  const withTls = (init: RequestInit): RequestInit => (dispatcher ? ({ ...init, dispatcher } as RequestInit) : init);
  const ctl = async (path: string, body?: unknown): Promise<any> => {
    const res = await fetch(
      baseUrl + path,
      withTls({
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
    const json = await res.json();
    if (!res.ok) throw new Error(`sandbox control ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const admin: SandboxAdmin = {
    simulate: (req) => ctl('/sandbox/simulate', req),
    faults: async (req) => void (await ctl('/sandbox/faults', req)),
    limits: (req) => ctl('/sandbox/limits', req),
    webhook: async (req) => {
      const out = await ctl('/sandbox/webhooks', req);
      registerSecret(/\/rest\/\d+\/([^/]+)/.exec(String(out?.webhookUrl ?? ''))?.[1]);
      return out;
    },
    expireTokens: async () => void (await ctl('/sandbox/tokens/expire', {})),
    stats: () => ctl('/sandbox/stats'),
    resetStats: async () => void (await ctl('/sandbox/stats/reset', {})),
    advanceTime: async (seconds) => void (await ctl('/sandbox/time', { advanceSeconds: seconds })),
    drainEvents: async () => void (await ctl('/sandbox/events/drain', {})),
    outgoingWebhook: (req) => ctl('/sandbox/outgoing', req),
    notifications: async (user) =>
      (await ctl(`/sandbox/notifications${user === undefined ? '' : `?user=${user}`}`)).items,
  };
  const install = async (o: { handler?: string; userId?: number } = {}): Promise<OAuthTokens> => {
    const q = new URLSearchParams({
      client_id: oauth.clientId,
      state: 'install',
      ...(o.userId ? { user_id: String(o.userId) } : {}),
    });
    const auth = await fetch(`${baseUrl}/oauth/authorize/?${q}`, withTls({ redirect: 'manual' }));
    const loc = auth.headers.get('location');
    if (auth.status !== 302 || !loc) throw new Error(`sandbox authorize failed: HTTP ${auth.status}`);
    const code = new URL(loc).searchParams.get('code')!;
    const tq = new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
      code,
    });
    const tr = await fetch(`${baseUrl}/oauth/token/?${tq}`, withTls({}));
    const t = (await tr.json()) as any;
    if (!tr.ok) throw new Error(`sandbox token exchange failed: HTTP ${tr.status} ${t.error}`);
    registerSecret(t.access_token);
    registerSecret(t.refresh_token);
    hooks.installed?.(Number(t.user_id), o);
    return {
      access_token: t.access_token,
      refresh_token: t.refresh_token,
      expires_in: t.expires_in,
      member_id: t.member_id,
      domain: t.domain,
      client_endpoint: t.client_endpoint,
      server_endpoint: t.server_endpoint,
      application_token: oauth.applicationToken,
      scope: t.scope,
    };
  };
  return {
    webhookUrl: addr.webhookUrl,
    baseUrl,
    ...(addr.caFile ? { caFile: addr.caFile } : {}),
    oauthApp: { ...oauth, install },
    admin,
    ping: async (timeoutMs) => {
      try {
        const res = await fetch(`${baseUrl}/sandbox/stats`, withTls({ signal: AbortSignal.timeout(timeoutMs) }));
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    },
    close: async () => {
      await (dispatcher as { close?: () => Promise<void> } | undefined)?.close?.();
    },
  };
}

async function tlsDispatcher(caFile: string): Promise<unknown> {
  const { Agent } = await import('undici');
  return new Agent({ connect: { ca: readFileSync(caFile, 'utf8') } });
}
