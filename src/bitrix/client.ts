/**
 * The Bitrix24 REST client: one object per portal, HTTP through undici, every request paced by the portal's shared
 * limiter, retried by error class, audited and redacted.
 *
 * Sources: settings/how-to-call-rest-api/general-principles.md (envelope, POST JSON), settings/performance/limits.md
 * (503 / 429), settings/oauth/index.md (401 expired_token), settings/how-to-call-rest-api/change-domen.md (302),
 * api-reference/rest-v3.md (REST 3.0 URL and Idempotency-Key).
 */
import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import { commandParams } from '../catalog/index.js';
import { type AuditSink, batchSubCalls, paramKeys } from './audit.js';
import { auditTagsField as tagsOf } from './auditContext.js';

import type { AuthProvider } from './auth/provider.js';
import {
  type BatchBuilder,
  type BatchChunkAnswer,
  type BatchCommand,
  type BatchResult,
  chunkCommands,
  encodeCommand,
  makeBatchResult,
  normaliseCommands,
  observeAnswer,
  parseBatchAnswer,
  refsOf,
  resolveRefs,
} from './batch.js';
import { catalogLookup, heuristicRisk, type MethodInfo, methodRiskSync } from './catalogInfo.js';
import type {
  CallObservation,
  CallObserver,
  CallOptions,
  CallResult,
  ClientStats,
  OperatingOutlook,
  PortalInfo,
} from './clientTypes.js';
import { type ExportOptions, exportAll } from './export.js';
import { type LimiterConfig, limiterFor, type PortalLimiter, sleep } from './limiter/index.js';
import { type ListOptions, type ListParams, listAll } from './list.js';
import {
  B24Error,
  ExpiredToken,
  errorFromResponse,
  NetworkError,
  NonJsonResponse,
  OperationTimeLimit,
  QueryLimitExceeded,
  ServerError,
  TenantIsolationError,
} from './restErrors.js';
import {
  hasV3Translation,
  isV3Missing,
  processV3Memory,
  readV3Batch,
  toV3Call,
  type V3Call,
  type V3Memory,
} from './restV3.js';
import {
  backoffMs,
  connectionRefused,
  describeNetError,
  exchange,
  netInit,
  type RawAnswer,
  transportOf,
} from './transport.js';

export type { ResponseTime } from './limiter/index.js';
export type { CallObservation, CallObserver, CallOptions, CallResult, ClientStats, OperatingOutlook, PortalInfo };

/** How a client is built; usually through `connect()` (src/bitrix/connect.ts). */
export interface ClientOptions {
  auth: AuthProvider;
  /** Limiter settings for the portal (the limiter itself is shared per portal in the process). */
  limiter?: LimiterConfig;
  /** Audit sink; default none. */
  audit?: AuditSink | false;
  /** Extra CA certificate(s) (PEM) for https portals with a private CA (the sandbox with --tls). */
  ca?: string | Buffer;
  /** Per-request timeout in ms (default 65 000: the cloud kills requests at 60 s). */
  timeoutMs?: number;
  /** Retries per call for retryable failures (default 6). */
  maxRetries?: number;
  /** User-Agent header. */
  userAgent?: string;
  /** false: never route calls over REST 3.0 by default (`version: 3` still works); default true. */
  restV3?: boolean;
  /** Where portals without REST 3.0 are remembered; default the process-wide memory. */
  v3Memory?: V3Memory;
  /** Told every HTTP exchange as it ends (metrics of the composition root); default none. */
  onCall?: CallObserver;
}

interface RequestSpec {
  method: string;
  /** Body params (object or positional list). */
  params: Record<string, unknown> | unknown[];
  version: 2 | 3;
  /** Sub-calls for operating pacing (one entry per method, with counts). */
  sub: Array<{ method: string; calls: number }>;
  /** Whether the request can be resent after it may have run (read-only, or carries an idempotency key). */
  resendable: boolean;
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** Batch sub-command methods by key, for per-command observation and audit. */
  batchMethods?: Record<string, string>;
  /** Top-level parameter names per batch sub-command. */
  batchKeys?: Record<string, string[]>;
}

let uaVersion = '0.1.0';

/**
 * A client for one portal. Obtain it through `connect()`; `call`, `batch`, `list`, `exportAll` are safe to use
 * concurrently — the shared limiter keeps the portal's limits.
 */
export class B24Client {
  readonly portal: PortalInfo;
  readonly limiter: PortalLimiter;
  private readonly auth: AuthProvider;
  private readonly audit: AuditSink | false;
  private readonly onCall: CallObserver | undefined;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly userAgent: string;
  private lookup: ((name: string) => any) | null = null;
  private lookupLoaded = false;
  private readonly counters = { requests: 0, retries: 0, status503: 0, status429: 0 };
  private readonly v3Counters = { calls: 0, fallbacks: 0 };
  private readonly restV3: boolean;
  private readonly v3Memory: V3Memory;
  private closed = false;

  constructor(opts: ClientOptions) {
    this.auth = opts.auth;
    this.limiter = limiterFor(`${opts.auth.kind}:${opts.auth.portalId}`, opts.limiter);
    this.portal = { id: opts.auth.portalId, kind: opts.auth.kind, plan: this.limiter.plan };
    this.audit = opts.audit ?? false;
    this.onCall = opts.onCall;
    this.timeoutMs = opts.timeoutMs ?? 65_000;
    this.maxRetries = opts.maxRetries ?? 6;
    this.userAgent = opts.userAgent ?? `b24flow/${uaVersion}`;
    this.restV3 = opts.restV3 !== false;
    this.v3Memory = opts.v3Memory ?? processV3Memory;
    this.dispatcher = new Agent({
      connections: 16,
      keepAliveTimeout: 10_000,
      ...(opts.ca ? { connect: { ca: opts.ca } } : {}),
    });
    void catalogLookup().then((l) => {
      this.lookup = l;
      this.lookupLoaded = true;
    });
  }

  /** The operating budget as this client sees it (see {@link OperatingOutlook}): cost estimates plan with it. */
  operatingOutlook(): OperatingOutlook {
    return this.limiter.outlook();
  }

  /** The auth kind and counters, e.g. for `--json` output. */
  stats(): ClientStats {
    return {
      ...this.counters,
      limiterWaitMs: this.limiter.bucket.waitedMs + this.limiter.operating.waitedMs,
      refreshes: this.auth.refreshes,
      restV3: { ...this.v3Counters },
    };
  }

  /**
   * The transport a call of `method` with `params` takes by default: 3 when the catalog marks the method `rest_v3`,
   * its params translate to REST 3.0 and the portal has not answered that REST 3.0 is missing for it; else 2.
   */
  routeOf(method: string, params: Record<string, unknown> | unknown[] = {}): 2 | 3 {
    return this.v3CallOf(method, params) ? 3 : 2;
  }

  /** Whether `method` has a REST 3.0 route at all (catalog `rest_v3` + a translation), whatever the portal says. */
  hasV3Route(method: string): boolean {
    const e = this.lookup?.(method);
    return !!(e && typeof e === 'object' && e.rest_v3) && hasV3Translation(method);
  }

  private v3CallOf(method: string, params: Record<string, unknown> | unknown[]): V3Call | undefined {
    if (!this.restV3 || !this.hasV3Route(method)) return undefined;
    if (this.v3Memory.isV2Only(this.portal.id, method)) return undefined;
    return toV3Call(method, params);
  }

  /**
   * Calls one method.
   * @param params object (sent as JSON), or a positional list for order-bound methods (`task.commentitem.add`)
   * @returns `{result, total?, next?, time?}`
   * @throws B24Error subclasses: fatal codes at once (with a `hint`), retryable ones after the retries ran out
   */
  async call<T = unknown>(
    method: string,
    params: Record<string, unknown> | unknown[] = {},
    opts: CallOptions = {},
  ): Promise<CallResult<T>> {
    await this.loadLookup();
    const risk = this.riskOf(method, params);
    const v3 = opts.version === undefined ? this.v3CallOf(method, params) : undefined;
    const v2Spec = (): RequestSpec => ({
      method,
      params,
      version: opts.version ?? 2,
      sub: [{ method, calls: 1 }],
      resendable: risk === 'read' || !!opts.idempotencyKey,
      ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    let body: any;
    if (v3) {
      // every REST 3.0 write carries a key: the caller's, else one per logical call, so a resend after a lost
      // answer is replayed by the portal instead of run twice (api-reference/rest-v3.md, Idempotency-Key)
      const key = opts.idempotencyKey ?? (risk === 'read' ? undefined : `b24flow-${randomUUID()}`);
      this.v3Counters.calls++;
      try {
        body = await this.send({
          method,
          params: v3.params,
          version: 3,
          sub: [{ method, calls: 1 }],
          resendable: risk === 'read' || !!key,
          ...(key ? { idempotencyKey: key } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        const next = v3.next?.(body.result);
        body = { ...body, result: v3.answer(body.result), ...(next !== undefined ? { next } : {}) };
      } catch (err) {
        if (!isV3Missing(err)) throw err;
        // the portal has no REST 3.0 for the method: nothing ran; remember it and send over REST 2 once
        this.v3Memory.rememberV2Only(this.portal.id, method);
        this.v3Counters.fallbacks++;
        // REST 2 ignores Idempotency-Key: the resend is as unsafe as any REST 2 write (never resent blindly)
        const { idempotencyKey: _unused, ...spec } = v2Spec();
        body = await this.send({ ...spec, resendable: risk === 'read' });
      }
    } else body = await this.send(v2Spec());
    const out: CallResult<T> = { result: body.result as T };
    if (body.total !== undefined && body.total !== null) out.total = Number(body.total);
    if (body.next !== undefined && body.next !== null) out.next = Number(body.next);
    if (body.time) out.time = body.time;
    return out;
  }

  /**
   * Runs commands through `batch`: ≤ 50 per request (more are chunked automatically; chunks without references
   * between them run in parallel inside the limiter). `$result[...]` references to a command of an earlier chunk are
   * resolved client-side. Sub-commands refused for their operating budget are parked and resent.
   * @param commands list (keys "0", "1", ...), map key → command, or a {@link BatchBuilder}
   * @throws BatchError before sending for a nested batch or a reference to a later command; B24Error for
   *   request-level failures. Per-command errors are in `result.errors`.
   */
  async batch(
    commands: BatchCommand[] | Record<string, BatchCommand> | BatchBuilder,
    opts: { halt?: boolean; signal?: AbortSignal } = {},
  ): Promise<BatchResult> {
    const pairs = normaliseCommands(commands);
    const keys = pairs.map(([k]) => k);
    if (!pairs.length) return makeBatchResult([], [], 0);
    const { chunks, crossRefs } = chunkCommands(pairs);
    let requests = 0;
    const parts: BatchChunkAnswer[] = [];
    const known: Record<string, unknown> = {};
    const runChunk = async (chunk: Array<[string, BatchCommand]>) => {
      const resolved: Array<[string, BatchCommand]> = chunk.map(([k, c]) => [
        k,
        crossRefs && c.params !== undefined
          ? { method: c.method, params: resolveRefs(c.params, known) as Record<string, unknown> }
          : c,
      ]);
      const r = await this.batchChunk(resolved, !!opts.halt, opts.signal);
      requests += r.requests;
      Object.assign(known, r.answer.results);
      return r.answer;
    };
    if (crossRefs || opts.halt) {
      for (const ch of chunks) {
        const a = await runChunk(ch);
        parts.push(a);
        if (opts.halt && Object.keys(a.errors).length) break;
      }
    } else {
      parts.push(...(await Promise.all(chunks.map(runChunk))));
    }
    return makeBatchResult(keys, parts, requests);
  }

  /**
   * Sends one chunk (≤ 50 commands); re-sends the commands the portal refused for their operating budget
   * (`OPERATION_TIME_LIMIT`, never executed) once their method is unparked.
   */
  private async batchChunk(
    chunk: Array<[string, BatchCommand]>,
    halt: boolean,
    signal?: AbortSignal,
  ): Promise<{ answer: BatchChunkAnswer; requests: number }> {
    const answer: BatchChunkAnswer = { results: {}, errors: {}, totals: {}, nexts: {}, times: {} };
    let pending = chunk;
    let requests = 0;
    let retryRounds = 0;
    while (pending.length && retryRounds <= this.maxRetries) {
      // Send only the prefix whose calls fit their methods' operating budgets now; the rest follows in the next
      // request (with references to finished commands resolved client-side), so a big batch never runs into 429.
      const fits = new Map<string, number>();
      let cut = 0;
      for (const [, c] of pending) {
        const m = c.method.toLowerCase();
        const n = (fits.get(m) ?? 0) + 1;
        if (cut > 0 && n > Math.max(1, this.limiter.operating.capacity(m))) break;
        fits.set(m, n);
        cut++;
      }
      const sending = pending.slice(0, cut);
      const deferred = pending.slice(cut);
      const methods: Record<string, string> = {};
      const keysOf: Record<string, string[]> = {};
      const cmd: Record<string, string> = {};
      let allReads = true;
      for (const [k, c] of sending) {
        methods[k] = c.method;
        keysOf[k] = paramKeys(c.params);
        cmd[k] = encodeCommand(c);
        if (this.riskOf(c.method, c.params) !== 'read') allReads = false;
      }
      const body = await this.send({
        method: 'batch',
        params: { halt: halt ? 1 : 0, cmd },
        version: 2,
        sub: [...fits].map(([method, calls]) => ({ method, calls })),
        resendable: allReads,
        batchMethods: methods,
        batchKeys: keysOf,
        ...(signal ? { signal } : {}),
      });
      requests++;
      const part = parseBatchAnswer(
        body.result,
        sending.map(([k]) => k),
        methods,
        this.auth.kind,
        (m) => this.scopeOf(m),
      );
      Object.assign(answer.results, part.results);
      Object.assign(answer.totals, part.totals);
      Object.assign(answer.nexts, part.nexts);
      Object.assign(answer.times, part.times);
      // Commands refused before running (operating budget) are resent when they do not depend on a failed one.
      const retry: Array<[string, BatchCommand]> = [];
      let failed = false;
      for (const [k, c] of sending) {
        const e = part.errors[k];
        if (!e) continue;
        const refsOk = refsOf(c.params).every((r) => r.key in answer.results);
        if (e instanceof OperationTimeLimit && refsOk && !halt) retry.push([k, c]);
        else {
          answer.errors[k] = e;
          failed = true;
        }
      }
      if (halt && failed) return { answer, requests };
      if (retry.length) retryRounds++;
      pending = [...retry, ...deferred].map(([k, c]) => [
        k,
        c.params === undefined ? c : { method: c.method, params: resolveRefs(c.params, answer.results) as any },
      ]);
    }
    for (const [k, c] of pending)
      answer.errors[k] ??= new OperationTimeLimit({
        code: 'OPERATION_TIME_LIMIT',
        status: 429,
        method: c.method,
        dialect: 'system',
        description: 'still blocked after retries',
      });
    return { answer, requests };
  }

  /**
   * Iterates every row of a list method by keyset (`order ID ASC`, `>ID`, `start=-1`): see src/bitrix/list.ts.
   * @throws B24Error from the portal; the signal's reason when aborted
   */
  list<T = Record<string, unknown>>(method: string, params: ListParams = {}, opts: ListOptions = {}): AsyncIterable<T> {
    return listAll<T>(this, method, params, opts);
  }

  /**
   * Fast export: 50 keyset pages chained per batch through `$result[...]`, disjoint ID windows in parallel inside the
   * limiter; yields pages of rows (ordered within a window, windows interleave). See src/bitrix/export.ts.
   */
  exportAll<T = Record<string, unknown>>(
    method: string,
    params: ListParams = {},
    opts: ExportOptions = {},
  ): AsyncIterable<T[]> {
    return exportAll<T>(this, method, params, opts);
  }

  /**
   * Sends REST 2-shaped commands (≤ 50) as one REST 3.0 batch (`/rest/api/batch`, a JSON array of `{method, query}`,
   * api-reference/rest-v3.md) with one `Idempotency-Key` (the caller's, else one per logical batch when it writes).
   * @returns per key the result (REST 2 shape) or error; undefined when a command has no REST 3.0 form or the portal
   *   has no REST 3.0 (remembered; nothing ran): send them over REST 2 then
   * @throws B24Error for request-level failures
   */
  async batchV3(
    commands: Array<[string, BatchCommand]>,
    opts: { idempotencyKey?: string; signal?: AbortSignal } = {},
  ): Promise<{ results: Record<string, unknown>; errors: Record<string, B24Error> } | undefined> {
    await this.loadLookup();
    const cmds = commands.map(([key, c]) => ({ key, method: c.method, call: this.v3CallOf(c.method, c.params ?? {}) }));
    if (!cmds.length || cmds.length > 50 || cmds.some((c) => !c.call)) return undefined;
    const writes = commands.some(([, c]) => this.riskOf(c.method, c.params) !== 'read');
    const key = opts.idempotencyKey ?? (writes ? `b24flow-${randomUUID()}` : undefined);
    const sub = new Map<string, number>();
    for (const c of cmds) sub.set(c.method.toLowerCase(), (sub.get(c.method.toLowerCase()) ?? 0) + 1);
    let body: any;
    try {
      body = await this.send({
        method: 'batch',
        params: cmds.map((c) => ({ method: c.method, query: c.call!.params })),
        version: 3,
        sub: [...sub].map(([method, calls]) => ({ method, calls })),
        resendable: !writes || !!key,
        ...(key ? { idempotencyKey: key } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if (!isV3Missing(err)) throw err;
      for (const c of cmds) this.v3Memory.rememberV2Only(this.portal.id, c.method);
      this.v3Counters.fallbacks++;
      return undefined;
    }
    this.v3Counters.calls++;
    const toError = (method: string, b: unknown) =>
      errorFromResponse(400, b, JSON.stringify(b), { method, authKind: this.auth.kind });
    return readV3Batch(
      body.result,
      cmds.map((c) => ({ key: c.key, method: c.method, call: c.call! })),
      toError,
    );
  }

  /** Releases the HTTP connections (the shared limiter stays for other clients of the portal). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dispatcher.close().catch(() => {});
  }

  /**
   * Risk of a call: catalog when loaded (with the method's param-dependent `effects`: `event.offline.get` with the
   * default `clear=1` is destructive, so it is never resent blindly), else the name heuristic. For a raw `batch` call
   * the risk is the highest of its sub-commands, each with its own query (a batch is never a read just because
   * `batch` itself reads nothing).
   */
  riskOf(method: string, params?: unknown): MethodInfo['risk'] {
    if (method.toLowerCase() === 'batch' && params !== undefined) {
      const cmd = (params as { cmd?: unknown })?.cmd;
      const subs = cmd && typeof cmd === 'object' ? Object.values(cmd as Record<string, unknown>) : [];
      let worst: MethodInfo['risk'] = 'read';
      for (const c of subs) {
        const sub = commandParams(String(c));
        const r = this.riskOf(sub.method, sub.params);
        if (r === 'destructive') return r;
        if (r === 'write') worst = 'write';
      }
      return subs.length ? worst : 'write';
    }
    return this.lookup ? methodRiskSync(method, this.lookup, params) : heuristicRisk(method);
  }

  /** The scope a method needs, from the catalog (for remediation hints). */
  private scopeOf(method: string): string | undefined {
    const e = this.lookup?.(method);
    return e && typeof e === 'object' && typeof e.scope === 'string' ? e.scope : undefined;
  }

  /** Writes the audit line of a write before it is sent; throws (AuditUnavailable) when it cannot be written. */
  private auditIntent(spec: RequestSpec, attempt: number): void {
    const audit = this.audit || undefined;
    if (!audit?.intent) return;
    const risk = this.riskOf(spec.method, spec.params);
    if (risk === 'read') return;
    audit.intent({
      ts: new Date().toISOString(),
      portal: this.portal.id,
      method: spec.method,
      risk,
      status: 0,
      ok: true,
      ms: 0,
      keys: paramKeys(spec.params),
      intent: true,
      ...(attempt ? { attempt } : {}),
      ...tagsOf(),
    });
  }

  private auditRecord(
    method: string,
    status: number,
    ok: boolean,
    code: string | undefined,
    ms: number,
    keys: string[],
    attempt: number,
    via?: string,
  ): void {
    if (!this.audit) return;
    this.audit.write({
      ts: new Date().toISOString(),
      portal: this.portal.id,
      method,
      risk: this.riskOf(method),
      status,
      ok,
      ...(code !== undefined ? { code } : {}),
      ms: Math.round(ms),
      keys,
      ...(via ? { via } : {}),
      ...(attempt ? { attempt } : {}),
      ...tagsOf(),
    });
  }

  /** Waits for the catalog once: risk classes (audit, retry policy) and REST 3.0 routes come from it. */
  private async loadLookup(): Promise<void> {
    if (this.lookupLoaded) return;
    this.lookup = await catalogLookup();
    this.lookupLoaded = true;
  }

  /** Sends one HTTP request with pacing, retries, refresh and redirects; returns the JSON envelope. */
  private async send(spec: RequestSpec): Promise<any> {
    await this.loadLookup();
    let attempt = 0;
    let refreshed = false;
    let redirects = 0;
    for (;;) {
      if (this.closed) throw new NetworkError(netInit(spec.method, 'client is closed'));
      this.auditIntent(spec, attempt); // a write whose audit line cannot be written is not sent
      const permit = await this.limiter.acquire(spec.sub, spec.signal);
      let answer: RawAnswer | undefined;
      let failure: B24Error | undefined;
      let token: string | undefined;
      const started = performance.now();
      try {
        const creds = await this.auth.credentials();
        token = creds.accessToken;
        if (creds.portalId !== this.portal.id)
          throw new TenantIsolationError({
            code: 'TENANT_MISMATCH',
            status: 0,
            method: spec.method,
            dialect: 'http',
            description: `credentials of portal ${creds.portalId} offered for portal ${this.portal.id}; refused`,
          });
        const base = spec.version === 3 ? creds.v3Base : creds.v2Base;
        answer = await this.http(base, spec, token, attempt);
        if (answer.status >= 300 && answer.status < 400) {
          // Domain change: the old address answers 302 with the new one; re-POST there.
          const loc = answer.location;
          this.limiter.release(permit);
          if (!loc || redirects >= 3)
            throw new ServerError({
              code: `HTTP_${answer.status}`,
              status: answer.status,
              method: spec.method,
              dialect: 'http',
              description: loc ? 'too many redirects' : 'redirect without Location',
            });
          redirects++;
          await this.auth.changeDomain(new URL(loc, base).origin);
          continue;
        }
      } catch (err) {
        if (err instanceof B24Error) failure = err;
        else if ((err as any)?.name === 'AbortError' || spec.signal?.aborted) {
          this.limiter.release(permit);
          throw err;
        } else failure = new NetworkError(netInit(spec.method, describeNetError(err), err));
      }
      const ms = performance.now() - started;
      if (answer && !failure) {
        const { status, body } = answer;
        if (
          status >= 200 &&
          status < 300 &&
          body &&
          typeof body === 'object' &&
          'result' in body &&
          !('error' in body)
        ) {
          this.observe(spec, body);
          this.told(spec, status, ms);
          this.limiter.release(permit);
          this.auditSuccess(spec, status, body, ms, attempt);
          return body;
        }
        const scope = this.scopeOf(spec.method);
        failure = errorFromResponse(status, body, answer.raw, {
          method: spec.method,
          authKind: this.auth.kind,
          ...(scope ? { scope } : {}),
        });
        if (body?.time) this.limiter.clock.observe(body.time.finish);
      }
      const err = failure!;
      this.told(spec, err.status, ms, err.code);
      this.auditRecord(spec.method, err.status, false, err.code, ms, paramKeys(spec.params), attempt);
      let waitMs = 0;
      let retry = false;
      if (err instanceof QueryLimitExceeded) {
        this.counters.status503++;
        waitMs = this.limiter.onQueryLimit(attempt);
        retry = true;
      } else if (err instanceof OperationTimeLimit) {
        this.counters.status429++;
        for (const s of spec.sub) this.limiter.onOperationLimit(s.method, err.resetAt);
        retry = true;
      } else if (err instanceof ExpiredToken) {
        this.limiter.release(permit);
        if (refreshed) throw err;
        refreshed = true;
        await this.auth.refresh(token);
        continue; // one retry after the refresh, not counted as an attempt
      } else if (
        (err instanceof ServerError || err instanceof NetworkError || err instanceof NonJsonResponse) &&
        err.retryable
      ) {
        // a refused connection never reached the portal: even a write is safe to send again (e.g. the embedded
        // sandbox of another process restarting on its port)
        retry = spec.resendable || connectionRefused(err);
        waitMs = backoffMs(attempt);
      }
      this.limiter.release(permit);
      // Limit answers mean "not executed": they may be waited out longer than failures of unknown outcome.
      const limitAnswer = err instanceof QueryLimitExceeded || err instanceof OperationTimeLimit;
      if (!retry || attempt >= (limitAnswer ? this.maxRetries * 2 : this.maxRetries)) throw err;
      attempt++;
      this.counters.retries++;
      if (waitMs) {
        if (err instanceof QueryLimitExceeded) this.limiter.operating.onWait?.({ reason: 'backoff', ms: waitMs });
        await sleep(waitMs, spec.signal);
      }
    }
  }

  /** Tells the observer one exchange as it ended (see {@link CallObservation}). */
  private told(spec: RequestSpec, status: number, ms: number, code?: string): void {
    this.onCall?.({
      method: spec.method,
      transport: transportOf(spec),
      status,
      seconds: ms / 1000,
      ...(code && { code }),
    });
  }

  private observe(spec: RequestSpec, body: any): void {
    this.counters.status429 += observeAnswer(this.limiter, spec, body);
  }

  private auditSuccess(spec: RequestSpec, status: number, body: any, ms: number, attempt: number): void {
    if (!this.audit) return;
    this.auditRecord(spec.method, status, true, undefined, ms, paramKeys(spec.params), attempt);
    for (const c of batchSubCalls(body, spec.batchMethods, spec.batchKeys))
      this.auditRecord(c.method, status, c.ok, c.code, c.ms, c.keys, attempt, `batch:${c.key}`);
  }

  /** One HTTP exchange (src/bitrix/transport.ts). */
  private http(base: string, spec: RequestSpec, token: string | undefined, _attempt: number): Promise<RawAnswer> {
    this.counters.requests++;
    const { dispatcher, userAgent, timeoutMs } = this;
    return exchange(base, spec, token, { dispatcher, userAgent, timeoutMs });
  }
}

/** Sets the version reported in the User-Agent (the CLI sets its package version). */
export function setUserAgentVersion(v: string): void {
  uaVersion = v;
}
