import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatAgent } from '../../agent/agent.js';
import { PlanRefusal, type PlanView, type RunView } from '../../agent/engine.js';
import { BodyAbortedError, clientAddressOf, isBodyError, type Route, refuseBody, sendJson } from '../../lib/http.js';
import { redact, registerSecrets } from '../../lib/redact.js';
import type { ApprovalService, LoadedPipeline } from '../../pipeline/index.js';
import { approvalRoutes } from './approvals.js';
import { BadRequest, digest, jsonBody, str } from './body.js';
import { AuthLockout } from './lockout.js';

/** Options of {@link apiRoutes}. */
export interface ApiDeps {
  agent: ChatAgent;
  /** Accepted `X-API-Key` values (`HTTP_API_TOKENS`, comma-separated). Empty = every request is refused. */
  tokens: string[];
  /**
   * Failed authentications per (client address, presented key) within `windowMs` before that key is refused from
   * that address with 429 (default 5). A valid key is never refused by the lockout.
   */
  maxFailures?: number;
  /**
   * Failed authentications per client address, any wrong keys, within `windowMs` before every wrong key from it is
   * refused with 429 (default 50): limits guessing one key after the other. Valid keys still pass.
   */
  maxAddressFailures?: number;
  /** Window for counting failures and the lockout duration, ms (default 15 min = 900 000). */
  windowMs?: number;
  /** Largest number of entries of each lockout table (default 10 000); the oldest are dropped beyond it. */
  maxLockoutEntries?: number;
  /**
   * Reverse proxies whose `X-Forwarded-For` is believed, each an IP address or a CIDR (`10.0.0.0/8`, `::1`);
   * default none: the socket address is the client. See {@link clientAddressOf} (src/lib/http.ts).
   * @throws TypeError from {@link apiRoutes} when an entry is neither
   */
  trustedProxies?: readonly string[];
  /** Clock, ms (tests). */
  now?: () => number;
  /** One redacted line per rejected or failed request. */
  log?: (line: string) => void;
  /** Approval requests (`/approvals` routes); absent: those routes answer 404. */
  approvals?: ApprovalService;
  /**
   * The Bitrix24 user each API key decides approvals as (`HTTP_API_TOKENS` entries `key@<user id>`); a key without
   * one may list and read requests but not decide them (403).
   */
  keyUsers?: ReadonlyMap<string, string>;
}

const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
const PIPELINE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const PLAN_OR_RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The HTTP API routes mounted by `b24flow serve`:
 * - `POST /chat` `{user_id, message}` → `{kind, reply, plan_id?, plan?}` (the same agent as the Telegram bot; API
 *   users are `api:<user_id>`).
 * - `POST /runs` `{pipeline, inputs?}` → 202 `{plan}` when the pipeline writes (apply it with the next route), or
 *   200 `{run}` when it only reads; a pipeline with `approvers:` is asked of them instead: 202 `{run_id, approvals}`
 *   (the caller's key user never approves it). Pipelines by name only; the caller never chooses a mode or a file path.
 * - `GET /runs/:id` → `{run}` or 404.
 * - `POST /plans/:id/apply` `{confirm_destructive?}` → `{run}`; 409 `{error: PLAN_EXPIRED|PLAN_USED|PLAN_DRIFTED|...}`; 404.
 * - `GET /approvals`, `GET /approvals/:id`, `POST /approvals/:id/approve|reject` (see ./approvals.ts).
 *
 * Every route needs `X-API-Key` (one of `tokens`, compared in constant time). A valid key is always let through;
 * wrong or missing keys get 401, and after 5 failures of the same key from one client address within 15 min (or 50
 * of any wrong keys from it) 429 with `Retry-After` (s) for 15 min (see src/adapters/http/lockout.ts). The client
 * address is the socket's, or the `X-Forwarded-For` client when the peer is one of `trustedProxies`. Bodies over
 * the server's `maxBodyBytes` → 413 (chunked ones too, cut off while streaming), bodies slower than its
 * `bodyTimeoutMs` → 408; see {@link refuseBody} for how the connection ends.
 * Unknown fields or bad types → 400; crashes → 500 `{error: "INTERNAL_SERVER_ERROR"}` with the details only in the
 * log.
 * @throws TypeError when an entry of `trustedProxies` is neither an IP address nor a CIDR
 */
export function apiRoutes(deps: ApiDeps): Route[] {
  const log = (line: string) => deps.log?.(redact(line));
  registerSecrets(deps.tokens);
  const digests = deps.tokens.filter((t) => t.length > 0).map(digest);
  const clientAddress = clientAddressOf(deps.trustedProxies);
  const lockout = new AuthLockout({
    ...(deps.maxFailures !== undefined ? { maxFailures: deps.maxFailures } : {}),
    ...(deps.maxAddressFailures !== undefined ? { maxAddressFailures: deps.maxAddressFailures } : {}),
    ...(deps.windowMs !== undefined ? { windowMs: deps.windowMs } : {}),
    ...(deps.maxLockoutEntries !== undefined ? { maxEntries: deps.maxLockoutEntries } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });

  /** Checks the key; answers 401/429 itself and returns false when the request must stop. */
  const authorize = (req: IncomingMessage, res: ServerResponse): boolean => {
    const given = req.headers['x-api-key'];
    const key = typeof given === 'string' ? given : '';
    const d = digest(key);
    // Compare against every token so the time does not depend on which (if any) matched.
    let ok = false;
    for (const td of digests) ok = timingSafeEqual(td, d) || ok;
    // A valid key is decided before the lockout: other clients' failures never refuse it.
    if (ok && key) return true;
    const ip = clientAddress(req);
    const retry = lockout.retryAfter(ip, key);
    if (retry > 0) {
      sendJson(
        res,
        429,
        { error: 'TOO_MANY_REQUESTS', message: 'too many failed authentications' },
        { 'retry-after': String(retry) },
      );
      return false;
    }
    const started = lockout.fail(ip, key);
    if (started !== 'none') {
      const what = started === 'key' ? 'this key' : 'every wrong key';
      const n = started === 'key' ? lockout.maxFailures : lockout.maxAddressFailures;
      log(`api: ${what} from ${ip} locked out for ${lockout.windowMs / 1000} s after ${n} failed authentications`);
    }
    log(`api: ${req.method} ${req.url} unauthorized from ${ip}`);
    sendJson(res, 401, { error: 'UNAUTHORIZED', message: 'missing or wrong X-API-Key' });
    return false;
  };

  const wrap =
    (fn: (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => Promise<void>) =>
    async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => {
      if (!authorize(req, res)) return;
      try {
        await fn(req, res, params);
      } catch (err) {
        if (err instanceof BadRequest) return sendJson(res, 400, { error: 'BAD_REQUEST', message: err.message });
        if (err instanceof BodyAbortedError) throw err; // the router closes the socket; nobody to answer
        if (isBodyError(err)) {
          log(`api: ${req.method} ${req.url} refused: ${err.message}`);
          return refuseBody(req, res, err);
        }
        if (err instanceof PlanRefusal) {
          return sendJson(res, err.reason === 'unknown' ? 404 : 409, {
            error: err.reason === 'unknown' ? 'NOT_FOUND' : `PLAN_${err.reason.toUpperCase()}`,
            message: redact(err.message),
          });
        }
        log(
          `api: ${req.method} ${req.url} failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
        );
        if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL_SERVER_ERROR' });
      }
    };

  const agent = deps.agent;
  const users = new Map([...(deps.keyUsers ?? [])].map(([k, u]) => [digest(k).toString('hex'), u]));
  /** The Bitrix24 user the request's key acts as, if it is bound to one. */
  const userOf = (req: IncomingMessage): string | undefined => {
    const given = req.headers['x-api-key'];
    return users.get(digest(typeof given === 'string' ? given : '').toString('hex'));
  };
  return [
    ...(deps.approvals ? approvalRoutes(deps.approvals, wrap, userOf) : []),
    {
      method: 'POST',
      path: '/chat',
      handler: wrap(async (req, res) => {
        const body = await jsonBody(req, ['user_id', 'message']);
        const userId = str(body, 'user_id', USER_ID, true);
        const message = str(body, 'message', /^[\s\S]{1,4000}$/, true);
        const reply = await agent.handleText(`api:${userId}`, message);
        // The agent already logged the details and told the administrator; the caller gets no internals.
        if (reply.kind === 'error') return sendJson(res, 500, { error: 'INTERNAL_SERVER_ERROR' });
        sendJson(res, 200, {
          kind: reply.kind,
          reply: reply.text,
          ...(reply.planId ? { plan_id: reply.planId } : {}),
          ...(reply.plan ? { plan: planJson(reply.plan) } : {}),
          ...(reply.run ? { run: runJson(reply.run) } : {}),
        });
      }),
    },
    {
      method: 'POST',
      path: '/runs',
      handler: wrap(async (req, res) => {
        const body = await jsonBody(req, ['pipeline', 'inputs']);
        const name = str(body, 'pipeline', PIPELINE_NAME, true);
        const inputs = body.inputs ?? {};
        if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
          throw new BadRequest('"inputs" must be an object');
        }
        const named = (await agent.engine.pipelines()).find((p) => p.name === name);
        if (!named) return sendJson(res, 404, { error: 'NOT_FOUND', message: `no pipeline named "${name}"` });
        const loaded = await agent.engine.loadNamed(named);
        const errors = loaded.findings.filter((f) => f.severity === 'error');
        if (errors.length || loaded.pipeline === undefined) {
          return sendJson(res, 422, {
            error: 'PIPELINE_INVALID',
            message: 'the pipeline does not pass its checks',
            findings: errors.map((f) => f.message),
          });
        }
        // a pipeline that names approvers is asked of them: the caller (its key's user) never approves it
        const lp = loaded.pipeline as LoadedPipeline;
        if (deps.approvals && lp.pipeline?.approvers) {
          const by = userOf(req);
          try {
            const asked = await deps.approvals.ask(lp, {
              inputs: inputs as Record<string, unknown>,
              trigger: { kind: 'api' },
              ...(by ? { startedBy: by } : {}),
            });
            return sendJson(res, asked.requests.length ? 202 : 200, {
              ...(asked.runId ? { run_id: asked.runId } : {}),
              status: asked.status,
              approvals: asked.requests.map((r) => ({
                id: r.id,
                owner: r.owner ?? null,
                approvers: r.approvers,
                expires_at: r.expiresAt,
              })),
            });
          } catch (err) {
            if (isInputError(err)) throw new BadRequest(redact((err as Error).message));
            throw err;
          }
        }
        let plan: PlanView;
        try {
          plan = await agent.engine.plan(loaded.pipeline, inputs as Record<string, unknown>, apiPrincipal(req));
        } catch (err) {
          if (isInputError(err)) throw new BadRequest(redact((err as Error).message));
          throw err;
        }
        if (plan.writes.length === 0) {
          const run = await agent.engine.apply(plan.id, {
            confirmWrite: false,
            confirmDestructive: false,
            principal: apiPrincipal(req),
          });
          return sendJson(res, 200, { run: runJson(run) });
        }
        sendJson(res, 202, { plan: planJson(plan), apply: `/plans/${encodeURIComponent(plan.id)}/apply` });
      }),
    },
    {
      method: 'GET',
      path: '/runs/:id',
      handler: wrap(async (_req, res, params) => {
        const id = params.id ?? '';
        if (!PLAN_OR_RUN_ID.test(id)) throw new BadRequest('bad run id');
        const run = await agent.engine.run(id);
        if (!run) return sendJson(res, 404, { error: 'NOT_FOUND', message: 'no such run' });
        sendJson(res, 200, { run: runJson(run) });
      }),
    },
    {
      method: 'POST',
      path: '/plans/:id/apply',
      handler: wrap(async (req, res, params) => {
        const id = params.id ?? '';
        if (!PLAN_OR_RUN_ID.test(id)) throw new BadRequest('bad plan id');
        const body = await jsonBody(req, ['confirm_destructive'], true);
        const cd = body.confirm_destructive ?? false;
        if (typeof cd !== 'boolean') throw new BadRequest('"confirm_destructive" must be a boolean');
        const run = await agent.applyForApi(id, cd, apiPrincipal(req));
        sendJson(res, 200, { run: runJson(run) });
      }),
    },
  ];
}

/**
 * The principal of an API caller: `api:` + 48 bits of the SHA-256 of its `X-API-Key` (never the key), so that a
 * plan made with one key is applied with the same key only.
 */
function apiPrincipal(req: IncomingMessage): string {
  const given = req.headers['x-api-key'];
  return `api:${digest(typeof given === 'string' ? given : '')
    .toString('hex')
    .slice(0, 12)}`;
}

function isInputError(err: unknown): boolean {
  return Boolean(err && typeof err === 'object' && 'exitCode' in err && (err as { exitCode: number }).exitCode === 2);
}

function planJson(p: PlanView) {
  return {
    id: p.id,
    created_at: p.createdAt,
    expires_at: p.expiresAt,
    risk: p.risk,
    risk_fields: p.riskFields,
    writes: p.writes.map((w) => ({ step: w.step, method: w.method, risk: w.risk, text: w.text })),
    cost: p.cost,
  };
}

function runJson(r: RunView) {
  return { id: r.runId, status: r.status, summary: r.summary, object_ids: r.objectIds };
}
