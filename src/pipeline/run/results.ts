/**
 * Small helpers over Bitrix24 answers and run bookkeeping: list rows, case-insensitive fields, compact results for
 * the journal, error info, run ids, step timeouts.
 */
import { randomBytes } from 'node:crypto';
import { isExpression, isTemplate } from '../expr.js';
import type { StepRecord } from '../journal.js';
import type { Step } from '../load.js';

/** A new run id: `r<UTC yyyymmddThhmmss>-<8 hex>`. */
export function newRunId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `r${t}-${randomBytes(4).toString('hex')}`;
}

/** Code and message of an error thrown by the client or returned per batch command. */
export function errorInfo(e: unknown): { code?: string; message: string } {
  const o = e as { code?: string; message?: string; description?: string };
  return { code: o?.code, message: String(o?.message ?? o?.description ?? e) };
}

/** Sleeps ms, resolving early when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res) => {
    const t = setTimeout(res, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        res();
      },
      { once: true },
    );
  });
}

/** A step's `timeout` (`500ms`, `30s`, `2m`) in ms; undefined when absent or malformed. */
export function parseTimeout(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const m = /^(\d+)(ms|s|m)$/.exec(t);
  if (!m) return undefined;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

/** The rows of a list result (array, or the one array under a wrapper key like `tasks`/`items`). */
export function rowsOf(result: unknown, wrapper?: string | null): unknown[] {
  if (Array.isArray(result)) return result;
  if (result && typeof result === 'object') {
    const o = result as Record<string, unknown>;
    if (wrapper && Array.isArray(o[wrapper])) return o[wrapper] as unknown[];
    const arrays = Object.values(o).filter(Array.isArray);
    if (arrays.length === 1) return arrays[0] as unknown[];
  }
  return result === undefined || result === null ? [] : [result];
}

/** Case-insensitive field read. */
export function fieldOf(o: unknown, name: string): unknown {
  if (!o || typeof o !== 'object') return undefined;
  const rec = o as Record<string, unknown>;
  if (name in rec) return rec[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(rec)) if (k.toLowerCase() === lower) return v;
  // tasks.task.get uses camelCase (responsibleId) for RESPONSIBLE_ID
  const camel = lower.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  return rec[camel];
}

/** True when write params (`fields`, positional `[id, fields]`, or flat) set `field`. */
export function touches(params: unknown, field: string): boolean {
  if (!params || typeof params !== 'object') return false;
  const f = (params as { fields?: unknown }).fields;
  const target = Array.isArray(params) ? params[1] : f && typeof f === 'object' ? f : params;
  return fieldOf(target, field) !== undefined;
}

/** What the journal keeps of a result: the id only (`{ ID: 5 }`, `{ task: { id } }`), else true. */
export function compactResult(r: unknown): unknown {
  if (r === null || typeof r !== 'object') return r;
  const o = r as Record<string, unknown>;
  for (const k of ['ID', 'id', 'item', 'task']) {
    const v = o[k];
    if (typeof v === 'number' || typeof v === 'string') return { [k]: v };
    if (v && typeof v === 'object') {
      const id = (v as Record<string, unknown>).id ?? (v as Record<string, unknown>).ID;
      if (id !== undefined) return { [k]: { id } };
    }
  }
  return true;
}

/**
 * The request/response summary of a finished step for the journal: method with param names (never values) and the
 * call count; rows or ok/failed/already-done counts with the first result compacted. Each ≤ 300 characters.
 */
export function ioSummary(s: Step, rec: StepRecord, result: unknown): { request: string; response: string } {
  const names = (v: unknown): string => {
    if (!v || typeof v !== 'object' || Array.isArray(v) || isExpression(v) || isTemplate(v)) return '';
    return `{${Object.keys(v).join(',')}}`;
  };
  const p = s.params;
  const params =
    p && typeof p === 'object' && !Array.isArray(p)
      ? Object.entries(p)
          .map(([k, v]) => `${k}${names(v)}`)
          .join(' ')
      : Array.isArray(p)
        ? `[${p.length} positional]`
        : '';
  const calls = s.foreach && rec.items > 1 ? ` ×${rec.items}` : '';
  const first = Array.isArray(result) ? result[0] : result;
  const firstText = first === undefined || first === null ? '' : `; first ${JSON.stringify(compactResult(first))}`;
  return {
    request: `${rec.method}${params ? ` ${params}` : ''}${calls}`.slice(0, 300),
    response:
      `${s.all ? `${rec.items} rows` : `${rec.done} ok`}${rec.failed ? `, ${rec.failed} failed` : ''}${rec.existing ? `, ${rec.existing} already done` : ''}${firstText}`.slice(
        0,
        300,
      ),
  };
}
