/**
 * The pipeline commands of the CLI (check, plan, run, apply, resume, runs, graph): they read the environment
 * (`process.env`, `.env`), connect through the composition root (src/cli/compose.ts), call src/pipeline with explicit
 * values, and print. Flag parsing is in src/cli/commands.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InvalidInputError } from '../../lib/failures.js';
import {
  applyPlan,
  type CatalogView,
  type CheckedFile,
  checkFiles,
  checkPipeline,
  compile,
  defaultCatalog,
  type LoadedPipeline,
  loadPipelineFile,
  MemoryIdempotencyStore,
  type Plan,
  type PlannedWrite,
  PlanRefused,
  type PortalFacts,
  type Program,
  type ProgressEvent,
  parseInputFlags,
  planPipeline,
  programJson,
  programMermaid,
  type RunRecord,
  type RunResult,
  resumeRun,
  runPipeline,
  userLanguage,
} from '../../pipeline/index.js';
import type { StoreRunSettings } from '../runSettings.js';
import { type Colors, colorsFor, paintStatus } from './colors.js';
import { jsonText } from './jsonOut.js';

/** The composition root, loaded when a command needs the environment or a portal (keeps `check`/`graph` quick). */
const composition = () => import('../compose.js');

/**
 * What src/pipeline takes from the configuration (environment + `.env`, through the composition root): data
 * directory, summary language, default time zone, plan lifetime, and the values of the pipeline's `env:` allow-list.
 */
async function runEnvironment(): Promise<StoreRunSettings> {
  const [{ readSettings }, { storeRunSettings }] = await Promise.all([composition(), import('../runSettings.js')]);
  return storeRunSettings(readSettings());
}

/** Portal facts for the checker when a portal is configured (webhook or OAuth env), else undefined. */
export async function portalFactsFromEnv(given: NodeJS.ProcessEnv = process.env): Promise<PortalFacts | undefined> {
  // the same configuration connect() sees: the environment, then .env for missing keys
  const { connectPortal, loadEnv } = await composition();
  const env = loadEnv(given);
  const auth = env.BITRIX_WEBHOOK_URL ? 'webhook' : env.B24_CLIENT_ID && env.B24_CLIENT_SECRET ? 'oauth' : undefined;
  if (!auth) return undefined;
  const facts: PortalFacts = { auth };
  const cache = scopeCache(env);
  const timeoutMs = Number(env.B24FLOW_SCOPE_TIMEOUT_MS) > 0 ? Number(env.B24FLOW_SCOPE_TIMEOUT_MS) : 3000;
  // aborting ends the pending request, so that `check` exits instead of waiting for the portal
  const abort = new AbortController();
  const read = (async () => {
    const conn = await connectPortal({ env, audit: false });
    try {
      const r = await conn.client.call<string[]>('scope', {}, { signal: abort.signal });
      return Array.isArray(r.result) ? r.result : undefined;
    } finally {
      await conn.close();
    }
  })();
  read.catch(() => {}); // a late failure after the timeout is not reported twice
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timeout'>((res) => {
    timer = setTimeout(() => res('timeout'), timeoutMs);
    timer.unref();
  });
  let why: string;
  try {
    const got = await Promise.race([read, late]);
    if (got !== 'timeout') {
      if (got) {
        facts.scopes = got;
        await cache.write(got).catch(() => {});
      }
      return facts;
    }
    why = `the portal did not answer within ${timeoutMs / 1000} s`;
    abort.abort(new Error(why));
  } catch (err) {
    why = (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
  const cached = await cache.read().catch(() => undefined);
  if (cached) {
    facts.scopes = cached.scopes;
    process.stderr.write(
      `b24flow: could not read the granted scopes (${why}); scope rules use the scopes cached at ${cached.at}\n`,
    );
  } else {
    process.stderr.write(`b24flow: could not read the granted scopes (${why}); scope rules skipped\n`);
  }
  return facts;
}

/** Lifetime of cached scopes, ms (1 hour). */
const SCOPE_TTL_MS = 60 * 60_000;

/**
 * The granted scopes cached per portal host in `<data dir>/scope-cache.json` (0600), used by `check` when the
 * portal does not answer in time; entries older than {@link SCOPE_TTL_MS} are ignored.
 */
function scopeCache(env: NodeJS.ProcessEnv): {
  read(): Promise<{ scopes: string[]; at: string } | undefined>;
  write(scopes: string[]): Promise<void>;
} {
  const file = join(resolve(env.B24FLOW_DATA_DIR || 'data'), 'scope-cache.json');
  let host = env.B24_DOMAIN ?? 'oauth';
  try {
    if (env.BITRIX_WEBHOOK_URL) host = new URL(env.BITRIX_WEBHOOK_URL).host;
  } catch {
    // a bad URL fails in connect(); the cache key does not matter then
  }
  const load = async (): Promise<Record<string, { scopes: string[]; at: string }>> => {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Record<string, { scopes: string[]; at: string }>;
    } catch {
      return {};
    }
  };
  return {
    async read() {
      const e = (await load())[host];
      if (!e || !Array.isArray(e.scopes) || !(Date.now() - Date.parse(e.at) < SCOPE_TTL_MS)) return undefined;
      return e;
    },
    async write(scopes) {
      const all = await load();
      all[host] = { scopes, at: new Date().toISOString() };
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, JSON.stringify(all), { mode: 0o600 });
      await chmod(file, 0o600);
    },
  };
}

/**
 * Checks files the way `b24flow check` does: portal facts from the configuration (scopes read from the portal when
 * one is configured), then {@link checkFiles}. Print the outcomes with `formatCheck` (./checkOutput.ts).
 */
export async function runCheckCommand(
  files: string[],
  opts: { items?: number; catalog?: CatalogView; portal?: PortalFacts | null } = {},
): Promise<CheckedFile[]> {
  const catalog = opts.catalog ?? (await defaultCatalog());
  const portal = opts.portal === null ? undefined : (opts.portal ?? (await portalFactsFromEnv()));
  return (await checkFiles(files, { catalog, portal, items: opts.items })).files;
}

function short(v: unknown, n = 60): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  if (s === undefined) return '∅';
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

const LABELS = ['TITLE', 'NAME', 'SUBJECT', 'COMMENT', 'MESSAGE', 'POST_MESSAGE'];

function writeLine(w: PlannedWrite, verbose: boolean): string {
  const p = w.params as Record<string, unknown>;
  const fields = (
    p && typeof p === 'object' && !Array.isArray(p) && typeof p.fields === 'object' ? p.fields : p
  ) as Record<string, unknown>;
  const id = p && typeof p === 'object' && !Array.isArray(p) ? (p.id ?? p.ID ?? p.taskId) : undefined;
  if (w.diff?.length) {
    const changes = w.diff
      .map(
        (d) =>
          `${d.field}: ${short(d.before, 30)} → ${short(d.after, 30)}${JSON.stringify(d.before) === JSON.stringify(d.after) ? ' (same)' : ''}`,
      )
      .join('; ');
    return `${w.entity} ${short(id)}: ${changes}`;
  }
  if (verbose) return `${w.method} ${short(w.params, 200)}`;
  const label =
    fields && typeof fields === 'object' ? LABELS.map((k) => fields[k]).find((x) => typeof x === 'string') : undefined;
  const rf = w.riskFields.length ? ` [${w.riskFields.map((f) => `${f}=${short(fields?.[f], 20)}`).join(', ')}]` : '';
  return `${id !== undefined ? `${w.entity} ${short(id)}` : `new ${w.entity}`}${label ? ` "${short(label, 50)}"` : ''}${rf}${w.pending ? ' (uses results of earlier writes)' : ''}`;
}

/** Human text of a plan: writes grouped by entity (diffs for updates), risk, risk fields, cost, checks. */
export function formatPlan(plan: Plan, opts: { verbose?: boolean; limit?: number; colors?: Colors } = {}): string {
  const c = opts.colors ?? colorsFor(process.stdout);
  const limit = opts.verbose ? Number.POSITIVE_INFINITY : (opts.limit ?? 5);
  const out: string[] = [];
  out.push(
    `Plan ${plan.id} — ${plan.pipeline.name} (valid until ${plan.expiresAt.replace('T', ' ').replace(/\..*$/, ' UTC')}, single use)`,
  );
  if (!plan.writes.length) out.push('  No writes.');
  const byEntity = new Map<string, PlannedWrite[]>();
  for (const w of plan.writes) byEntity.set(w.entity, [...(byEntity.get(w.entity) ?? []), w]);
  for (const [entity, ws] of byEntity) {
    const steps = [...new Set(ws.map((w) => w.step))];
    const risk = ws.some((w) => w.risk === 'destructive') ? c.red('DESTRUCTIVE') : 'write';
    const verb = ws.every((w) => /\.add$/i.test(w.method))
      ? 'create'
      : ws.every((w) => /\.update$/i.test(w.method))
        ? 'update'
        : 'change';
    out.push(`  ${entity}: ${ws.length} to ${verb} (step ${steps.join(', ')}; risk ${risk})`);
    for (const w of ws.slice(0, limit)) out.push(`    ${w.refused ? '✗ ' : '• '}${writeLine(w, !!opts.verbose)}`);
    if (ws.length > limit) out.push(`    … ${ws.length - limit} more (--verbose shows all)`);
  }
  for (const d of plan.deferred ?? []) out.push(`  Deferred read: ${d.step} (${d.method}) <after step ${d.after}>`);
  out.push(
    `  Risk: ${plan.risk}${plan.riskFields.length ? ` · risk fields touched: ${plan.riskFields.join(', ')}` : ''}`,
  );
  out.push(`  Cost: ${plan.cost.text}`);
  const passed = plan.checks.filter((ch) => ch.ok).length;
  if (passed) out.push(`  Checks: ${passed} passed`);
  for (const ch of plan.checks)
    if (!ch.ok)
      out.push(c.yellow(`  Check failed${ch.behavior === 'block' ? ' (blocks the run)' : ''}: ${ch.message}`));
  return `${out.join('\n')}\n`;
}

/** Human text of a run: refusals and the summary in the user's language. */
export function formatRun(r: RunResult, opts: { verbose?: boolean; lang?: 'en' | 'ru'; colors?: Colors } = {}): string {
  const c = opts.colors ?? colorsFor(process.stdout);
  const lang = opts.lang ?? userLanguage(process.env); // printing only: the language of the summary lines
  const out: string[] = [];
  if (r.writes.length && r.mode !== 'shadow' && r.status !== 'refused') {
    const byEntity = new Map<string, number>();
    for (const w of r.writes) if (!w.refused) byEntity.set(w.entity, (byEntity.get(w.entity) ?? 0) + 1);
    if (byEntity.size)
      out.push(`${lang === 'ru' ? 'План' : 'Plan'}: ${[...byEntity].map(([e, n]) => `${n} × ${e}`).join(', ')}`);
  }
  for (const ch of r.checks) if (!ch.ok) out.push(c.yellow(`${ch.behavior === 'block' ? '✗' : '!'} ${ch.message}`));
  for (const line of r.summary[lang]) out.push(line);
  if (r.outputs)
    for (const [k, v] of Object.entries(r.outputs))
      out.push(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}`);
  const status: Record<string, { en: string; ru: string }> = {
    completed: { en: 'Done.', ru: 'Готово.' },
    planned: {
      en: 'Nothing was written (shadow mode: plan only).',
      ru: 'Ничего не записано (режим shadow: только план).',
    },
    partial: { en: 'Done in part.', ru: 'Выполнено частично.' },
    refused: { en: 'Nothing was written.', ru: 'Ничего не записано.' },
    blocked: { en: 'Stopped by a check before any write.', ru: 'Остановлено проверкой до записи.' },
    failed: { en: 'Failed.', ru: 'Ошибка.' },
  };
  const refusedNote =
    r.status === 'completed' && r.refusals.length
      ? lang === 'ru'
        ? ' Кроме отклонённых шагов выше.'
        : ' Refused steps are listed above.'
      : '';
  out.push(
    `${paintStatus(c, r.status, status[r.status]?.[lang] ?? r.status)}${refusedNote}${opts.verbose || r.status !== 'completed' ? ` (run ${r.runId})` : ''}`,
  );
  if (r.error) out.push(`${lang === 'ru' ? 'Причина' : 'Reason'}: ${r.error}`);
  return `${out.join('\n')}\n`;
}

/** A progress line on stderr for long steps (≥ 100 items), throttled to 4 updates/s. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): (e: ProgressEvent) => void {
  let last = 0;
  let shown = false;
  return (e) => {
    if (e.total < 100) return;
    const now = Date.now();
    if (now - last < 250 && e.done < e.total) return;
    last = now;
    const line = `${e.step}: ${e.done}/${e.total} (${Math.floor((100 * e.done) / e.total)}%, ${e.requests} requests)`;
    if (stream.isTTY) stream.write(`\r${line}${e.done >= e.total ? '\n' : ''}`);
    else if (e.done >= e.total || !shown) stream.write(`${line}\n`);
    shown = true;
  };
}

/** One-line description of a run for `b24flow runs`. */
export function formatRunRecord(r: RunRecord, c: Colors = colorsFor(process.stdout)): string {
  const steps = Object.values(r.steps);
  const writes = steps.filter((s) => s.risk && s.risk !== 'read').reduce((a, s) => a + s.done, 0);
  return `${r.runId}  ${r.startedAt.replace('T', ' ').replace(/\..*$/, '')}  ${r.pipeline.name.padEnd(24)} ${r.mode.padEnd(6)} ${paintStatus(c, r.status, r.status.padEnd(9))} ${writes} writes`;
}

/** Flags shared by plan/run/apply/resume. */
export interface RunFlags {
  mode?: string;
  confirmWrite?: boolean;
  confirmDestructive?: boolean;
  input?: string[];
  json?: boolean;
  verbose?: boolean;
  batching?: boolean;
}

/**
 * Portal facts for checking before a run, from the configuration alone (no request): OAuth when only an app is
 * configured, else webhook (a configured webhook, or the embedded sandbox's).
 */
async function configuredFacts(): Promise<PortalFacts> {
  const env = (await composition()).loadEnv(process.env);
  return { auth: !env.BITRIX_WEBHOOK_URL?.trim() && env.B24_CLIENT_ID && env.B24_CLIENT_SECRET ? 'oauth' : 'webhook' };
}

/** Loads, compiles and checks a pipeline once; errors stop the command before it connects. */
async function loadChecked(
  file: string,
  catalog: CatalogView,
  flags: { batching?: boolean },
): Promise<{ p: LoadedPipeline; program: Program }> {
  const p = await loadPipelineFile(file);
  const program = compile(p, catalog, { batching: flags.batching !== false });
  const findings = checkPipeline(p, { catalog, portal: await configuredFacts(), program });
  const errors = findings.filter((f) => f.severity === 'error');
  if (errors.length) throw new InvalidInputError(`${file}: ${errors.length} error(s); fix them first`, errors);
  return { p, program };
}

function out(s: string) {
  process.stdout.write(s);
}

function exitFor(r: RunResult): void {
  if (r.status === 'refused') throw new InvalidInputError(`nothing written: ${r.error ?? 'refused'}`);
  if (r.status === 'failed' || r.status === 'blocked') process.exitCode = 1;
}

/** `b24flow plan <file>`: runs reads, prints and stores the plan. */
export async function runPlanCommand(file: string, flags: RunFlags): Promise<void> {
  const catalog = await defaultCatalog();
  const { p, program } = await loadChecked(file, catalog, flags);
  const conn = await (await composition()).connectPortal();
  try {
    const plan = await planPipeline(p, {
      ...(await runEnvironment()),
      client: conn.client,
      catalog,
      program,
      inputs: parseInputFlags(p, flags.input),
      batching: flags.batching !== false,
      onProgress: progressPrinter(),
    });
    out(flags.json ? jsonText(plan) : formatPlan(plan, { verbose: flags.verbose }));
    if (!flags.json && plan.writes.length)
      process.stderr.write(
        `Apply with: b24flow apply ${plan.id} --confirm-write${plan.risk === 'destructive' ? ' --confirm-destructive' : ''}\n`,
      );
  } finally {
    await conn.close();
  }
}

/** `b24flow run <file>`: shadow (default) prints the plan; canary/full execute and print the summary. */
export async function runRunCommand(file: string, flags: RunFlags): Promise<void> {
  const mode = (flags.mode ?? 'shadow') as 'shadow' | 'canary' | 'full';
  if (!['shadow', 'canary', 'full'].includes(mode))
    throw new InvalidInputError(`--mode must be shadow, canary or full`);
  const catalog = await defaultCatalog();
  const { p, program } = await loadChecked(file, catalog, flags);
  const conn = await (await composition()).connectPortal();
  try {
    const inputs = parseInputFlags(p, flags.input);
    const common = {
      ...(await runEnvironment()),
      client: conn.client,
      catalog,
      program,
      inputs,
      batching: flags.batching !== false,
      verbose: flags.verbose,
      onProgress: flags.json ? undefined : progressPrinter(),
      trigger: { kind: 'cli' as const },
      // the embedded sandbox forgets its data on exit: remember keyed writes only for this process
      ...(conn.sandbox ? { idempotency: new MemoryIdempotencyStore() } : {}),
    };
    if (mode === 'full' && !flags.json) {
      // show the plan first; the full run then executes these writes
      // the run takes the plan's reads (same inputs, same `now`) instead of reading the same data again
      const plan = await planPipeline(p, { ...common, store: false, withReads: true });
      out(formatPlan(plan, { verbose: flags.verbose }));
      if (!plan.writes.length) out('\n');
      const r = await runPipeline(p, {
        ...common,
        mode,
        now: plan.now,
        planReads: plan.reads,
        confirmWrite: flags.confirmWrite,
        confirmDestructive: flags.confirmDestructive,
      });
      out(formatRun(r, { verbose: flags.verbose }));
      return exitFor(r);
    }
    const r = await runPipeline(p, {
      ...common,
      mode,
      confirmWrite: flags.confirmWrite,
      confirmDestructive: flags.confirmDestructive,
    });
    if (flags.json) out(jsonText(r));
    else {
      if (r.plan) out(formatPlan(r.plan, { verbose: flags.verbose }));
      out(formatRun(r, { verbose: flags.verbose }));
    }
    exitFor(r);
  } finally {
    await conn.close();
  }
}

/**
 * `b24flow apply <plan-id>`: applies a stored plan (refused when it was changed, made by another principal,
 * expired, used or drifted; on drift the new plan is printed and its id named).
 */
export async function runApplyCommand(planId: string, flags: RunFlags): Promise<void> {
  const catalog = await defaultCatalog();
  const conn = await (await composition()).connectPortal();
  try {
    const r = await applyPlan(planId, {
      ...(await runEnvironment()),
      client: conn.client,
      catalog,
      confirmWrite: flags.confirmWrite,
      confirmDestructive: flags.confirmDestructive,
      verbose: flags.verbose,
      onProgress: flags.json ? undefined : progressPrinter(),
      trigger: { kind: 'cli' },
      ...(conn.sandbox ? { idempotency: new MemoryIdempotencyStore() } : {}),
    }).catch((err: unknown) => {
      // drift: show the new plan (stored; the refusal names its id) so that it can be reviewed and applied
      if (err instanceof PlanRefused && err.reason === 'drifted' && err.plan)
        out(flags.json ? jsonText(err.plan) : formatPlan(err.plan, { verbose: flags.verbose }));
      throw err;
    });
    out(flags.json ? jsonText(r) : formatRun(r, { verbose: flags.verbose }));
    exitFor(r);
  } finally {
    await conn.close();
  }
}

/** `b24flow resume <run-id>`. */
export async function runResumeCommand(runId: string, flags: RunFlags): Promise<void> {
  const catalog = await defaultCatalog();
  const conn = await (await composition()).connectPortal();
  try {
    const r = await resumeRun(runId, {
      ...(await runEnvironment()),
      client: conn.client,
      catalog,
      verbose: flags.verbose,
      onProgress: flags.json ? undefined : progressPrinter(),
    });
    out(flags.json ? jsonText(r) : formatRun(r, { verbose: flags.verbose }));
    exitFor(r);
  } finally {
    await conn.close();
  }
}

/**
 * `b24flow graph <file> [--format mermaid|json]`: prints the compiled program — a Mermaid flowchart (default) or
 * the program as JSON. Nothing is sent to a portal.
 * @throws InvalidInputError for an unknown format or a pipeline that does not load
 */
export async function runGraphCommand(file: string, flags: { format?: string }): Promise<void> {
  const format = flags.format ?? 'mermaid';
  if (format !== 'mermaid' && format !== 'json') throw new InvalidInputError('--format must be mermaid or json');
  const catalog = await defaultCatalog();
  const program = compile(await loadPipelineFile(file), catalog);
  out(format === 'json' ? `${JSON.stringify(programJson(program), null, 2)}\n` : programMermaid(program));
}
