/**
 * Running REST calls against the method table: method lookup (case-insensitive; a method without a handler answers
 * 404 ERROR_METHOD_NOT_FOUND, "not emulated" for documented-looking names),
 * batch-only / app-only / scope checks, the per-method operating budget (429 OPERATION_TIME_LIMIT), the handler,
 * the envelope with `time` and `x-bitrix-rest-*` headers; and the two batches: v1 `batch` (≤ 50 commands,
 * `halt`, `$result[…]` references, result_* sections, no nested batch) and the REST 3.0 array batch.
 * Sources (apidocs.bitrix24.com/<path>.html): settings/how-to-call-rest-api/batch.md,
 * settings/performance/limits.md, _includes/system-errors.md, api-reference/rest-v3.md; rest-protocol.md §2, §5,
 * §8, §9.
 */
import { ApiError, argError, v3Error } from './apiError.js';
import { hasScope } from './auth.js';
import { type Envelope, errBody, timeBlock, v3Body } from './envelope.js';
import { simulatedCost } from './limits.js';
import { registerCrm } from './methods/crm.js';
import { notEmulated } from './methods/generic.js';
import { registerSystem } from './methods/system.js';
import { registerTasks } from './methods/tasks.js';
import { registerV3Service } from './methods/tasksV3.js';
import { type Params, parseQuery, pick, truthy } from './params.js';
import type { Portal } from './portal.js';
import { type CallCtx, type MethodResult, type MethodSpec, Registry } from './registry.js';
import { positional } from './request.js';

/** Builds the method table of a portal: CRM, tasks, system methods and the REST 3.0 service methods. */
export function buildRegistry(portal: Portal): Registry {
  const r = new Registry();
  registerCrm(r);
  registerTasks(r, portal.def('task').fields);
  registerSystem(r);
  registerV3Service(r);
  return r;
}

/** Runs calls of one portal through its method table (which includes `batch`). */
export class Dispatcher {
  /** the method table: every curated method plus `batch` */
  readonly registry: Registry;

  constructor(readonly portal: Portal) {
    this.registry = buildRegistry(portal);
    this.registry.add({ name: 'batch', scope: 'basic', noBatch: true, handler: (ctx, p) => this.batch(ctx, p) });
  }

  /** Runs one call (top level or batch sub-call) and builds its envelope. */
  async invoke(
    ctx: CallCtx,
    method: string,
    params: Params | unknown[],
    started = this.portal.clock.now(),
  ): Promise<Envelope> {
    const p = this.portal;
    const wrap = (e: ApiError): Envelope => ({ status: e.status, body: ctx.v3 ? v3Body(e) : errBody(e) });
    const spec: MethodSpec | undefined = this.registry.get(method, ctx.v3);
    if (!spec) {
      return wrap(ctx.v3 ? v3Error(404, 'METHODNOTFOUNDEXCEPTION', 'Method not found') : notEmulated(method));
    }
    if (ctx.inBatch && spec.noBatch)
      return wrap(new ApiError(405, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage'));
    if (spec.appOnly && ctx.authKind === 'webhook') {
      return wrap(new ApiError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method'));
    }
    if (!hasScope(ctx, spec.scope)) {
      return wrap(
        ctx.v3
          ? v3Error(403, 'INSUFFICIENTSCOPEEXCEPTION', 'Insufficient scope')
          : new ApiError(
              403,
              'insufficient_scope',
              // inside batch the portal answers this code with an empty description (batch.md error example)
              ctx.inBatch ? '' : 'The request requires higher privileges than provided by the webhook token',
            ),
      );
    }
    const opKey = ctx.authKey + '|' + method;
    const nowSec = p.clock.nowSec();
    if (spec.name !== 'batch' && p.budget.blocked(opKey, nowSec)) {
      return wrap(new ApiError(429, 'OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.'));
    }
    const args = positional(spec, params);
    const t0 = performance.now();
    let r: MethodResult;
    try {
      r = await spec.handler(ctx, args);
    } catch (e) {
      if (!(e instanceof ApiError)) {
        p.opts.log(`sandbox: ${spec.name} failed: ${(e as Error).stack ?? e}`);
        p.budget.charge(opKey, nowSec, simulatedCost(0, 0, false));
        return wrap(new ApiError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'));
      }
      p.budget.charge(opKey, nowSec, simulatedCost(0, 0, false));
      return wrap(e);
    }
    const procMs = performance.now() - t0;
    if (r.write) p.stats.writes[spec.name.toLowerCase()] = (p.stats.writes[spec.name.toLowerCase()] ?? 0) + 1;
    let op: { operating: number; resetAt: number } | undefined;
    if (spec.name !== 'batch') {
      p.budget.charge(
        opKey,
        nowSec,
        simulatedCost(r.rows ?? (Array.isArray(r.result) ? r.result.length : 1), r.counted ?? 0, !!r.write),
      );
      op = p.budget.state(opKey, nowSec);
    }
    const end = Math.max(p.clock.now(), started + procMs);
    const body: Record<string, unknown> = { result: r.result };
    if (!ctx.v3) {
      if (r.total !== undefined) body.total = r.total;
      if (r.next !== undefined) body.next = r.next;
    }
    body.time = timeBlock(started, end, procMs, op);
    return {
      status: 200,
      body,
      headers: {
        'x-bitrix-rest-time': String((end - started) / 1000),
        'x-bitrix-rest-user-time': String(procMs / 1000),
        'x-bitrix-rest-system-time': '0',
        ...(ctx.authKind === 'oauth' ? { 'x-bitrix-rest-application': p.oauth.app.clientId } : {}),
      },
    };
  }

  /** v1 batch (settings/how-to-call-rest-api/batch.md). */
  private async batch(ctx: CallCtx, p: Params): Promise<MethodResult> {
    const cmdIn = pick(p, 'cmd');
    if (!cmdIn || typeof cmdIn !== 'object') throw argError('Empty batch query', 'ERROR_ARGUMENT');
    const isList = Array.isArray(cmdIn);
    const entries = Object.entries(cmdIn as Record<string, unknown>);
    if (entries.length > 50) throw new ApiError(400, 'ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded');
    const halt = truthy(pick(p, 'halt'));
    const result: Record<string, unknown> = {};
    const errors: Record<string, unknown> = {};
    const totals: Record<string, unknown> = {};
    const nexts: Record<string, unknown> = {};
    const times: Record<string, unknown> = {};
    let rows = 0;
    for (const [key, cmd] of entries) {
      const text = String(cmd ?? '');
      const q = text.indexOf('?');
      const method = (q < 0 ? text : text.slice(0, q)).trim().toLowerCase();
      let params: Params = parseQuery(q < 0 ? '' : text.slice(q + 1));
      delete params.auth;
      params = substitute(params, { result, result_total: totals, result_next: nexts }) as Params;
      const sub: CallCtx = { ...ctx, inBatch: true, connector: String(params.auth_connector ?? ctx.connector) };
      const env = await this.invoke(sub, method, params);
      const b = env.body as Record<string, any>;
      if (env.status === 200) {
        result[key] = b.result;
        if (b.total !== undefined) totals[key] = b.total;
        if (b.next !== undefined) nexts[key] = b.next;
        times[key] = b.time;
        rows += Array.isArray(b.result) ? b.result.length : 1;
      } else {
        errors[key] = b;
        if (halt) break;
      }
    }
    const section = (o: Record<string, unknown>) => {
      const keys = Object.keys(o);
      if (!keys.length) return [];
      if (isList && keys.every((k, i) => k === String(i))) return Object.values(o);
      return o;
    };
    return {
      result: {
        result: section(result),
        result_error: section(errors),
        result_total: section(totals),
        result_next: section(nexts),
        result_time: section(times),
      },
      rows,
    };
  }

  /** REST 3.0 batch: a bare JSON array of `{method, query}`; result is an array in order. */
  async v3batch(ctx: CallCtx, params: unknown): Promise<Envelope> {
    const started = this.portal.clock.now();
    if (!Array.isArray(params)) {
      // the v1 form (`{cmd: {…}}` with "method?query" strings) is refused with INVALIDSELECTEXCEPTION (rest-v3.md)
      const v1Form = !!params && typeof params === 'object' && 'cmd' in (params as object);
      return {
        status: 400,
        body: v3Body(
          v1Form
            ? v3Error(400, 'INVALIDSELECTEXCEPTION', 'The cmd batch format is not supported by REST 3.0')
            : v3Error(400, 'VALIDATION_REQUESTVALIDATIONEXCEPTION', 'Batch body must be an array'),
        ),
      };
    }
    if (params.length > 50)
      return {
        status: 400,
        body: v3Body(v3Error(400, 'VALIDATION_REQUESTVALIDATIONEXCEPTION', 'Max batch length exceeded')),
      };
    const out: unknown[] = [];
    for (const c of params as any[]) {
      const env = await this.invoke({ ...ctx, inBatch: true }, String(c?.method ?? '').toLowerCase(), c?.query ?? {});
      out.push(env.status === 200 ? (env.body as any).result : (env.body as any));
    }
    // the time block carries the operating fields as every REST 3.0 answer does (rest-v3.md); the outer batch
    // itself is not charged (settings/performance/limits.md), its sub-calls are
    const op = this.portal.budget.state(ctx.authKey + '|batch', this.portal.clock.nowSec());
    const end = this.portal.clock.now();
    return { status: 200, body: { result: out, time: timeBlock(started, end, end - started, op) } };
  }
}

/** Replaces `$result[cmd][a][b]` (and `$result_total`/`$result_next`) references in batch sub-call params. */
function substitute(v: unknown, ctx: Record<string, Record<string, unknown>>): unknown {
  if (typeof v === 'string') {
    const full = /^\$(result|result_total|result_next)((?:\[[^\]]*\])+)$/.exec(v);
    if (full) return lookup(ctx, full[1]!, full[2]!);
    return v.replace(/\$(result|result_total|result_next)((?:\[[^\]]*\])+)/g, (_, sec: string, path: string) => {
      const x = lookup(ctx, sec, path);
      return x === undefined || x === null ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x);
    });
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, ctx));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = substitute(x, ctx);
    return o;
  }
  return v;
}

function lookup(ctx: Record<string, Record<string, unknown>>, section: string, path: string): unknown {
  const keys = [...path.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!);
  let cur: any = ctx[section];
  for (const k of keys) {
    if (cur === null || cur === undefined) return undefined;
    cur = cur[k];
  }
  return cur;
}
