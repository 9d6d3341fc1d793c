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
import type { SandboxHandle, SandboxOptions } from './handle.js';
import { Portal } from './portal.js';
import { sandboxEndpoint } from './remote.js';
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
    ...(opts.restV3 === false ? { restV3: false } : {}),
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
  const traffic: Traffic = { inFlight: 0, lastAt: 0 };
  server.on('request', (_req, res) => {
    traffic.inFlight++;
    traffic.lastAt = Date.now();
    res.once('close', () => {
      traffic.inFlight--;
      traffic.lastAt = Date.now();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, host, () => resolve());
    });
  } catch (err) {
    // the port is taken: the data dir is not ours to keep
    portal.releaseLock();
    if (caFile) rmSync(dirname(caFile), { recursive: true, force: true });
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const baseUrl = `${opts.tls ? 'https' : 'http'}://${shownHost}:${addr.port}`;
  portal.baseUrl = baseUrl;
  const webhookUrl = `${baseUrl}/rest/1/${portal.defaultWebhookCode}/`;
  // the embedded portal's credentials are this process's secrets too: redaction masks them everywhere (the endpoint
  // registers them)
  const oauth = portal.oauth.app;
  const endpoint = await sandboxEndpoint(
    {
      baseUrl,
      webhookUrl,
      ...(caFile ? { caFile } : {}),
      oauthApp: {
        clientId: oauth.clientId,
        clientSecret: oauth.clientSecret,
        memberId: oauth.memberId,
        domain: portal.domain(),
        applicationToken: oauth.applicationToken,
      },
    },
    {
      // ONAPPINSTALL goes out from the in-process portal: to the install's handler, and to every online binding
      installed: (userId, o) => {
        const data = { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'ru' };
        if (o.handler)
          portal.events.deliver({ ID: 0, handler: o.handler, authType: userId }, 'ONAPPINSTALL', data, true);
        for (const b of portal.events.bindings)
          if (b.event === 'ONAPPINSTALL' && !b.offline) portal.events.deliver(b, 'ONAPPINSTALL', data, true);
      },
    },
  );
  const handle: SandboxHandle = {
    ...endpoint,
    portal,
    server: app,
    close: async (o = {}) => {
      await stopServer(server, traffic, o.graceMs ?? 0);
      await portal.events.drain();
      await portal.flush();
      portal.releaseLock();
      await endpoint.close();
      if (caFile) rmSync(dirname(caFile), { recursive: true, force: true });
    },
  };
  return handle;
}

/** Requests in flight and when the last one started or ended (ms since epoch). */
interface Traffic {
  inFlight: number;
  lastAt: number;
}

/** A pause without requests that counts as "nobody is using the sandbox right now", ms. */
const QUIET_MS = 200;
/** How long a connection accepted just before the listener closed gets to send its request, ms. */
const SETTLE_MS = 100;

/**
 * Stops the server. Without grace, every connection is dropped at once. With grace (at most `graceMs` in all):
 * waits for a quiet moment (nothing in flight, nothing new for {@link QUIET_MS}), stops accepting connections while
 * keeping the ones already accepted — Node's `close()` would drop a connection whose request has not arrived yet as
 * idle, which its client sees as "other side closed" on a request of unknown outcome — lets their requests finish,
 * then drops what is left. A client connecting after that is refused, which is safe to retry.
 */
async function stopServer(server: Server, traffic: Traffic, graceMs: number): Promise<void> {
  if (graceMs <= 0) {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    });
    return;
  }
  const until = Date.now() + graceMs;
  await quiet(traffic, until, QUIET_MS);
  const closeIdle = server.closeIdleConnections;
  server.closeIdleConnections = () => {};
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections = closeIdle;
  traffic.lastAt = Date.now();
  await quiet(traffic, Math.max(until, Date.now() + SETTLE_MS), SETTLE_MS);
  server.closeAllConnections?.();
  await closed;
}

/** Resolves when no request is in flight and none started or ended for `quietMs`, or at `until` (ms since epoch). */
async function quiet(traffic: Traffic, until: number, quietMs: number): Promise<void> {
  while (Date.now() < until && (traffic.inFlight > 0 || Date.now() - traffic.lastAt < quietMs))
    await new Promise((r) => setTimeout(r, 20));
}
