/**
 * The web console's routes, mounted by `serve` (and `b24flow console`) under `/console`: server-rendered pages, htmx
 * (served from the package) for the live run timeline, plain forms with a CSRF token for every change. Nothing but
 * the sign-in page, the link redemption and the two static assets (stylesheet, htmx) is served without a session:
 * pages redirect to sign-in, forms answer 401. Deciding an approval request needs a session bound to a Bitrix24 user
 * and follows the same rules as Telegram and the HTTP API (src/pipeline/approvals).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Route } from '../../lib/http.js';
import { redact } from '../../lib/redact.js';
import { ApprovalRefused, type ApprovalService, approvalLines, type Journal } from '../../pipeline/index.js';
import { ConsoleAuth, formBody, loginPage, type Signed, sendPage } from './auth.js';
import { CSS, html, page } from './html.js';
import type { ConsoleSessions } from './sessions.js';
import {
  approvalList,
  approvalView,
  type ConsolePipeline,
  dlqView,
  overview,
  pipelineView,
  runList,
  runView,
  timeline,
} from './views.js';

/** A dead letter as the console lists it. */
export interface ConsoleDeadLetter {
  id: string;
  event: string;
  error: string;
  attempts: number;
  pipelines: string[];
}

/** What the console reads and acts on (the composition root passes the store's and the service's). */
export interface ConsoleDeps {
  sessions: ConsoleSessions;
  /** API keys accepted at sign-in, each with the Bitrix24 user it acts as (undefined: read-only). */
  keys: ReadonlyMap<string, string | undefined>;
  journal: Journal;
  approvals?: ApprovalService;
  deadLetters?: {
    list(): Promise<ConsoleDeadLetter[]>;
    get(id: string): Promise<unknown>;
    drop(id: string): Promise<boolean>;
    /** Runs the letter's pipelines again; the outcome in words. */
    replay?(id: string): Promise<string>;
  };
  pipelines(): ConsolePipeline[];
  /** Each portal's health (limiter bucket, operating budget, recent 503/429), shown as given. */
  health?(): Promise<Record<string, unknown>[]>;
  /** Session lifetime, ms (default 12 h). */
  sessionTtlMs?: number;
  /** Set the cookie's Secure flag (the console is served over HTTPS). */
  secure?: boolean;
  log?: (line: string) => void;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => Promise<void>;

/** The htmx build served from the installed package. */
function htmxSource(): string {
  const req = createRequire(import.meta.url);
  return readFileSync(req.resolve('htmx.org/dist/htmx.min.js'), 'utf8');
}

/** The console's routes (see module doc). */
export function consoleRoutes(d: ConsoleDeps): Route[] {
  const auth = new ConsoleAuth(d.sessions, d.keys, {
    ...(d.sessionTtlMs ? { ttlMs: d.sessionTtlMs } : {}),
    ...(d.secure ? { secure: true } : {}),
    ...(d.log ? { log: d.log } : {}),
  });
  let htmx: string | undefined;
  const log = (l: string) => d.log?.(redact(l));

  /** A page handler: signed in, or redirected to sign-in. */
  const view =
    (
      title: (p: Record<string, string>) => string,
      body: (
        s: Signed,
        p: Record<string, string>,
        req: IncomingMessage,
      ) => Promise<ReturnType<typeof html> | undefined>,
    ): Handler =>
    async (req, res, params) => {
      const s = await auth.session(req);
      if (!s) return void res.writeHead(303, { location: '/console/login' }).end();
      try {
        const b = await body(s, params, req);
        if (!b)
          return sendPage(
            res,
            404,
            page('Not found', html`<p>Nothing here.</p>`, {
              csrf: s.session.csrf,
              ...(s.session.userId ? { user: s.session.userId } : {}),
            }),
          );
        sendPage(
          res,
          200,
          page(title(params), b, { csrf: s.session.csrf, ...(s.session.userId ? { user: s.session.userId } : {}) }),
        );
      } catch (err) {
        log(`console: ${req.url} failed: ${err instanceof Error ? err.message : String(err)}`);
        sendPage(res, 500, page('Error', html`<p class="err">Something went wrong; see the service log.</p>`));
      }
    };

  /** A form handler: signed in and CSRF-checked, else 401/403 with nothing done. */
  const action =
    (
      fn: (s: Signed, form: URLSearchParams, p: Record<string, string>, res: ServerResponse) => Promise<void>,
    ): Handler =>
    async (req, res, params) => {
      const s = await auth.session(req);
      if (!s) return sendPage(res, 401, loginPage('Sign in first.'));
      const form = await formBody(req);
      if (!auth.csrfOk(req, s, form))
        return sendPage(
          res,
          403,
          page('Refused', html`<p class="err">The form is stale or came from another site; nothing was done.</p>`),
        );
      await fn(s, form, params, res);
    };

  const see = (res: ServerResponse, where: string) => void res.writeHead(303, { location: where }).end();

  /** An approval request page, with an optional note (a refusal, the outcome). */
  const approvalPage = async (s: Signed, id: string, note?: string) => {
    const a = d.approvals ? await d.approvals.get(id) : undefined;
    if (!a || !d.approvals) return undefined;
    return approvalView(a, await approvalLines(d.approvals, a, 'en'), s.session.csrf, !!s.session.userId, note);
  };

  const decide = (op: 'approve' | 'reject'): Handler =>
    action(async (s, form, p, res) => {
      const id = p.id ?? '';
      const by = s.session.userId;
      let note: string | undefined;
      if (!d.approvals) return see(res, '/console/approvals');
      if (!by) note = 'This session is read-only (no Bitrix24 user): nothing was decided.';
      else {
        try {
          const hash = form.get('hash') ?? undefined;
          const r =
            op === 'approve'
              ? await d.approvals.approve(id, {
                  by,
                  via: 'console',
                  ...(hash ? { hash } : {}),
                  confirmDestructive: form.get('confirm_destructive') === '1',
                })
              : await d.approvals.reject(id, {
                  by,
                  via: 'console',
                  ...(hash ? { hash } : {}),
                  reason: form.get('reason') ?? '',
                });
          if (r.reasked) return see(res, `/console/approvals/${r.reasked.id}`);
          if (r.waitingFor) note = `Approved; waiting for ${r.waitingFor} more approval(s).`;
        } catch (err) {
          if (!(err instanceof ApprovalRefused)) throw err;
          note = `${err.message} (${err.reason}); nothing was done.`;
        }
      }
      const b = await approvalPage(s, id, note);
      sendPage(
        res,
        note ? 409 : 200,
        page(`Approval request ${id}`, b ?? html`<p>Unknown request.</p>`, {
          csrf: s.session.csrf,
          ...(by ? { user: by } : {}),
        }),
      );
    });

  return [
    { method: 'GET', path: '/console/login', handler: (_q, res) => sendPage(res, 200, loginPage()) },
    {
      method: 'POST',
      path: '/console/login',
      handler: async (req, res) => {
        const key = (await formBody(req)).get('key') ?? '';
        const who = auth.keyUser(req, key);
        if (who === 'locked') return sendPage(res, 429, loginPage('Too many wrong keys; try again later.'));
        if (!who) return sendPage(res, 401, loginPage('Wrong API key.'));
        await auth.signIn(res, who.user);
      },
    },
    {
      method: 'GET',
      path: '/console/link/:token',
      handler: async (_req, res, p) => {
        const user = await d.sessions.redeemLink(p.token ?? '');
        if (!user)
          return sendPage(
            res,
            401,
            loginPage('This sign-in link is unknown, used or expired; ask the bot for a new one (/console).'),
          );
        await auth.signIn(res, user);
      },
    },
    {
      method: 'POST',
      path: '/console/logout',
      handler: action(async (s, _f, _p, res) => auth.signOut(res, s)),
    },
    {
      method: 'GET',
      path: '/console/assets/console.css',
      handler: (_q, res) =>
        void res.writeHead(200, { 'content-type': 'text/css', 'cache-control': 'max-age=3600' }).end(CSS),
    },
    {
      method: 'GET',
      path: '/console/assets/htmx.js',
      handler: (_q, res) => {
        htmx ??= htmxSource();
        res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=3600' }).end(htmx);
      },
    },
    {
      method: 'GET',
      path: '/console',
      handler: view(
        () => 'Pipelines',
        async () => {
          const runs = await d.journal.list({ limit: 200 });
          const last = new Map<string, (typeof runs)[number]>();
          for (const r of runs) if (!last.has(r.pipeline.name)) last.set(r.pipeline.name, r);
          const pending = d.approvals ? (await d.approvals.list({ state: ['pending'] })).length : 0;
          const dlq = d.deadLetters ? (await d.deadLetters.list()).length : 0;
          return overview(d.pipelines(), last, pending, dlq);
        },
      ),
    },
    {
      method: 'GET',
      path: '/console/pipelines/:name',
      handler: view(
        (p) => `Pipeline ${p.name}`,
        async (_s, p) => {
          const pl = d.pipelines().find((x) => x.name === p.name);
          return pl ? pipelineView(pl, await d.journal.list({ pipeline: pl.name, limit: 20 })) : undefined;
        },
      ),
    },
    {
      method: 'GET',
      path: '/console/runs',
      handler: view(
        () => 'Runs',
        async () => runList(await d.journal.list({ limit: 100 })),
      ),
    },
    {
      method: 'GET',
      path: '/console/runs/:id',
      handler: view(
        (p) => `Run ${p.id}`,
        async (_s, p) => {
          const run = await d.journal.get(p.id ?? '');
          if (!run) return undefined;
          const writes = [...(await d.journal.loadWrites(run.runId)).values()];
          const approval =
            typeof run.trigger?.approval === 'string' && d.approvals
              ? await d.approvals.get(run.trigger.approval)
              : undefined;
          const lines = approval && d.approvals ? await approvalLines(d.approvals, approval, 'en') : [];
          return runView(run, writes, { lines });
        },
      ),
    },
    {
      method: 'GET',
      path: '/console/runs/:id/timeline',
      handler: async (req, res, p) => {
        if (!(await auth.session(req))) return sendPage(res, 401, '');
        const run = await d.journal.get(p.id ?? '');
        sendPage(res, run ? 200 : 404, run ? timeline(run).text : '');
      },
    },
    {
      method: 'GET',
      path: '/console/approvals',
      handler: view(
        () => 'Approval requests',
        async () => approvalList(d.approvals ? await d.approvals.list({ limit: 200 }) : []),
      ),
    },
    {
      method: 'GET',
      path: '/console/approvals/:id',
      handler: view(
        (p) => `Approval request ${p.id}`,
        async (s, p) => approvalPage(s, p.id ?? ''),
      ),
    },
    { method: 'POST', path: '/console/approvals/:id/approve', handler: decide('approve') },
    { method: 'POST', path: '/console/approvals/:id/reject', handler: decide('reject') },
    {
      method: 'GET',
      path: '/console/dlq',
      handler: view(
        () => 'Dead letters',
        async (s) => dlqView(d.deadLetters ? await d.deadLetters.list() : [], s.session.csrf),
      ),
    },
    {
      method: 'GET',
      path: '/console/dlq/:id',
      handler: view(
        (p) => `Dead letter ${p.id}`,
        async (_s, p) => {
          const l = await d.deadLetters?.get(p.id ?? '');
          return l ? html`<pre>${JSON.stringify(l, null, 2)}</pre>` : undefined;
        },
      ),
    },
    {
      method: 'POST',
      path: '/console/dlq/:id/replay',
      handler: action(async (s, _f, p, res) => {
        const out = d.deadLetters?.replay ? await d.deadLetters.replay(p.id ?? '') : 'replay is not available here';
        sendPage(
          res,
          200,
          page('Replay', html`<p>${out}</p><p><a href="/console/dlq">Dead letters</a></p>`, { csrf: s.session.csrf }),
        );
      }),
    },
    {
      method: 'POST',
      path: '/console/dlq/:id/drop',
      handler: action(async (_s, _f, p, res) => {
        await d.deadLetters?.drop(p.id ?? '');
        see(res, '/console/dlq');
      }),
    },
    {
      method: 'GET',
      path: '/console/health',
      handler: view(
        () => 'Portal health',
        async () =>
          html`${(d.health ? await d.health() : []).map((h) => html`<pre>${JSON.stringify(h, null, 2)}</pre>`)}`,
      ),
    },
  ];
}
