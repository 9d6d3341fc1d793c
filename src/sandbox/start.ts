/**
 * Starting and stopping a sandbox portal: builds the seeded {@link Portal}, serves it over http or https (a
 * self-signed certificate made at start), registers its credentials with the redactor and hands back a
 * {@link SandboxHandle} with a client for the /sandbox/* control endpoints and the OAuth install flow
 * (authorize → token, then ONAPPINSTALL; apidocs.bitrix24.com/settings/oauth/index.html and
 * api-reference/common/events/on-app-install.html, doc settings/oauth/index.md, on-app-install.md).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { registerSecret } from '../lib/redact.js';
import type { OAuthTokens, SandboxAdmin, SandboxHandle, SandboxOptions } from './handle.js';
import { Portal } from './portal.js';
import { seedPortal } from './seed.js';
import { SandboxServer } from './server.js';

/** Deal count of a size option. */
export function dealsFor(size: SandboxOptions['size']): number {
  if (typeof size === 'number') return Math.max(0, Math.floor(size));
  return size === 'medium' ? 10_000 : size === 'large' ? 100_000 : 200;
}

async function tlsMaterial(host: string): Promise<{ key: string; cert: string; caFile: string }> {
  const selfsigned = await import('selfsigned');
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'b24flow sandbox' }], {
    keySize: 2048,
    days: 30,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, keyEncipherment: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          ...(host !== '127.0.0.1' && host !== 'localhost' ? [{ type: 2, value: host }] : []),
        ],
      },
    ],
  } as any);
  const dir = join(tmpdir(), `b24flow-sandbox-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, pems.cert);
  return { key: pems.private, cert: pems.cert, caFile };
}

/**
 * Starts a sandbox portal.
 * @returns handle with the webhook URL, OAuth app, admin client and close()
 * @throws when the port is taken or the data dir holds an unreadable snapshot
 */
export async function startSandbox(opts: SandboxOptions = {}): Promise<SandboxHandle> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.quiet ? () => {} : (line: string) => process.stderr.write(line + '\n');
  const portal = new Portal({
    seed: opts.seed ?? 1,
    deals: dealsFor(opts.size),
    plan: opts.plan ?? 'standard',
    operatingLimit: opts.operatingLimit ?? 480,
    clockFactor: opts.clockFactor ?? 1,
    dataDir: opts.dataDir,
    log,
    populate: (p) => seedPortal(p, p.opts.seed, p.opts.deals, p.clock.now()),
  });
  const app = new SandboxServer(portal);
  let caFile: string | undefined;
  let server: Server;
  if (opts.tls) {
    const m = await tlsMaterial(host);
    caFile = m.caFile;
    server = createHttpsServer({ key: m.key, cert: m.cert }, app.handle) as unknown as Server;
  } else server = createHttpServer(app.handle);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 70_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const baseUrl = `${opts.tls ? 'https' : 'http'}://${shownHost}:${addr.port}`;
  portal.baseUrl = baseUrl;
  const webhookUrl = `${baseUrl}/rest/1/${portal.defaultWebhookCode}/`;
  // the embedded portal's credentials are this process's secrets too: redaction masks them everywhere
  registerSecret(portal.defaultWebhookCode);
  registerSecret(portal.oauth.app.clientSecret);
  registerSecret(portal.oauth.app.applicationToken);

  const dispatcher = caFile ? await tlsDispatcher(caFile) : undefined;
  const ctl = async (path: string, body?: unknown): Promise<any> => {
    const res = await fetch(baseUrl + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...(dispatcher ? { dispatcher } : {}),
    } as RequestInit);
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
  };
  const oauth = portal.oauth.app;
  const handle: SandboxHandle = {
    webhookUrl,
    baseUrl,
    caFile,
    portal,
    server: app,
    admin,
    oauthApp: {
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      memberId: oauth.memberId,
      domain: portal.domain(),
      applicationToken: oauth.applicationToken,
      install: async (o = {}) => {
        const q = new URLSearchParams({
          client_id: oauth.clientId,
          state: 'install',
          ...(o.userId ? { user_id: String(o.userId) } : {}),
        });
        const auth = await fetch(`${baseUrl}/oauth/authorize/?${q}`, {
          redirect: 'manual',
          ...(dispatcher ? { dispatcher } : {}),
        } as RequestInit);
        const loc = auth.headers.get('location');
        if (auth.status !== 302 || !loc) throw new Error(`sandbox authorize failed: HTTP ${auth.status}`);
        const code = new URL(loc).searchParams.get('code')!;
        const tq = new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: oauth.clientId,
          client_secret: oauth.clientSecret,
          code,
        });
        const tr = await fetch(`${baseUrl}/oauth/token/?${tq}`, {
          ...(dispatcher ? { dispatcher } : {}),
        } as RequestInit);
        const t = (await tr.json()) as any;
        if (!tr.ok) throw new Error(`sandbox token exchange failed: HTTP ${tr.status} ${t.error}`);
        registerSecret(t.access_token);
        registerSecret(t.refresh_token);
        const tokens: OAuthTokens = {
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
        const data = { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'ru' };
        if (o.handler)
          portal.events.deliver({ ID: 0, handler: o.handler, authType: t.user_id }, 'ONAPPINSTALL', data, true);
        for (const b of portal.events.bindings)
          if (b.event === 'ONAPPINSTALL' && !b.offline) portal.events.deliver(b, 'ONAPPINSTALL', data, true);
        return tokens;
      },
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      await portal.events.drain();
      await portal.flush();
      portal.releaseLock();
      await (dispatcher as any)?.close?.();
      if (caFile) rmSync(dirname(caFile), { recursive: true, force: true });
    },
  };
  return handle;
}

async function tlsDispatcher(caFile: string): Promise<unknown> {
  const { Agent } = await import('undici');
  const { readFileSync } = await import('node:fs');
  return new Agent({ connect: { ca: readFileSync(caFile, 'utf8') } });
}
