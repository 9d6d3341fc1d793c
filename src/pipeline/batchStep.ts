/**
 * Structured commands of a `method: batch` step. A pipeline never writes a batch command as text: each command is a
 * method and a params map,
 *
 * ```yaml
 * - id: touch
 *   method: batch
 *   params:
 *     cmd:
 *       upd: { method: crm.deal.update, params: { id: "${{ inputs.deal }}", fields: { COMMENTS: "${{ steps.get.TITLE }}" } } }
 * ```
 *
 * and the runtime encodes every command with the client's encoder ({@link encodeCommand}, PHP bracket form with each
 * value percent-encoded). Values from the portal (a deal title holding `&id=2&cmd[x]=crm.deal.delete?id=3`) stay
 * values: they can never add a parameter, change the record a command writes or add a command. A string command
 * (`"crm.deal.update?id=..."`, a `$template`, or an expression that yields text) is refused by `check` (rule
 * `batch-command`) and again at run time, before anything is sent. Source for the command syntax:
 * settings/how-to-call-rest-api/batch.md.
 */
import { BATCH_LIMIT, encodeCommand } from '../bitrix/batch.js';
import { RuntimeFailure } from '../lib/failures.js';
import { isExpression, isTemplate } from './expr.js';
import type { DocPath } from './load.js';

/** A command key Bitrix24 (and the client) accepts: letters, digits, `_ . -`. */
const KEY_RE = /^[A-Za-z0-9_.-]+$/;
/** A literal REST method name. */
const METHOD_RE = /^[A-Za-z][A-Za-z0-9_.]*$/;

/** What a structured command looks like, for messages. */
export const STRUCTURED_FORM = `cmd: { <key>: { method: crm.deal.update, params: { id: "\${{ ... }}", fields: { TITLE: "\${{ ... }}" } } } }`;

/** One problem with a step's `params.cmd`, at a document path relative to the step's `params`. */
export interface BatchCommandIssue {
  /** Path inside the step's `params` (`['cmd', 'upd', 'method']`). */
  path: DocPath;
  /** Report at the key rather than the value. */
  key?: boolean;
  message: string;
}

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Why a string is not a command: the same text for a literal, an expression and a template. */
function stringCommand(what: string): string {
  return (
    `${what} is text; a batch command built from text lets data rewrite its query (a value holding "&id=" or ` +
    `"&cmd[...]=" changes what is written). Write it structured: ${STRUCTURED_FORM}`
  );
}

/**
 * The problems of a `method: batch` step's unresolved `params.cmd` (as written in the pipeline). `cmd` must be a
 * literal map (or list) of ≤ 50 commands; each command a map with a literal `method` (not `batch`) and optional
 * `params` (a map, a list, or one whole `${{ }}` expression yielding one); keys letters, digits, `_ . -`.
 * Params values may be expressions: they are typed values, encoded one by one.
 * @returns no issues for a well-formed (or absent: `required-param` reports it) `cmd`
 */
export function batchCommandIssues(cmd: unknown): BatchCommandIssue[] {
  if (cmd === undefined) return [];
  if (typeof cmd === 'string' || isTemplate(cmd))
    return [{ path: ['cmd'], message: stringCommand(isExpression(cmd) ? 'an expression for cmd' : 'cmd') }];
  if (!cmd || typeof cmd !== 'object')
    return [{ path: ['cmd'], message: `cmd must be a map of structured commands: ${STRUCTURED_FORM}` }];
  const entries: [string | number, unknown][] = Array.isArray(cmd) ? cmd.map((v, i) => [i, v]) : Object.entries(cmd);
  if (!entries.length) return [{ path: ['cmd'], message: 'a batch needs at least one command' }];
  const out: BatchCommandIssue[] = [];
  if (entries.length > BATCH_LIMIT)
    out.push({ path: ['cmd'], message: `a batch holds at most ${BATCH_LIMIT} commands (${entries.length} here)` });
  for (const [k, c] of entries) {
    const at: DocPath = ['cmd', k];
    if (typeof k === 'string' && !KEY_RE.test(k))
      out.push({ path: at, key: true, message: `batch command key "${k}" must use letters, digits, _ . - only` });
    if (typeof c === 'string' || isTemplate(c)) {
      out.push({ path: at, message: stringCommand(`batch command "${k}"`) });
      continue;
    }
    if (!isMap(c)) {
      out.push({ path: at, message: `batch command "${k}" must be a map { method, params }: ${STRUCTURED_FORM}` });
      continue;
    }
    for (const extra of Object.keys(c).filter((x) => x !== 'method' && x !== 'params'))
      out.push({
        path: [...at, extra],
        key: true,
        message: `batch command "${k}" has "${extra}"; a command has only method and params`,
      });
    const m = c.method;
    if (m === undefined) out.push({ path: at, message: `batch command "${k}" has no method` });
    else if (typeof m !== 'string' || !METHOD_RE.test(m))
      out.push({
        path: [...at, 'method'],
        message: `batch command "${k}": method must be a literal method name (a method chosen by data is never sent)`,
      });
    else if (m.toLowerCase() === 'batch')
      out.push({ path: [...at, 'method'], message: `batch command "${k}": a batch cannot contain another batch` });
    const p = c.params;
    if (isTemplate(p)) out.push({ path: [...at, 'params'], message: stringCommand(`params of batch command "${k}"`) });
    else if (p !== undefined && p !== null && !isMap(p) && !Array.isArray(p) && !isExpression(p))
      out.push({
        path: [...at, 'params'],
        message: `params of batch command "${k}" must be a map (values may be \${{ }} expressions)`,
      });
  }
  return out;
}

/**
 * Run-time guard of a batch step as written: refuses it before anything is sent when its params are not a literal
 * map with `cmd` (a whole-params expression could bring text commands) or {@link batchCommandIssues} finds a
 * problem (defence in depth behind `check`).
 * @throws RuntimeFailure naming the step and the first problem
 */
export function assertStructuredBatch(stepId: string, params: unknown): void {
  if (!isMap(params) || params.cmd === undefined)
    throw new RuntimeFailure(`step "${stepId}": a batch step needs params with cmd: ${STRUCTURED_FORM}`);
  const issue = batchCommandIssues(params.cmd)[0];
  if (issue) throw new RuntimeFailure(`step "${stepId}": ${issue.message}`);
}

/**
 * The params of a `batch` call with every command encoded by the client's encoder: `{ cmd: { k: { method, params } } }`
 * (resolved) → `{ cmd: { k: "method?query" } }` (a list stays a list; `halt` and other params unchanged).
 * @throws RuntimeFailure when `cmd` is not a map or list of `{ method, params }` commands with a literal-looking
 *   method name (a string command is never passed through)
 */
export function encodeBatchParams(params: unknown): Record<string, unknown> {
  if (!isMap(params)) throw new RuntimeFailure('batch: params must be a map with cmd');
  const cmd = params.cmd;
  const encodeOne = (k: string, c: unknown): string => {
    if (!isMap(c)) throw new RuntimeFailure(stringCommand(`batch command "${k}"`));
    const { method, params: p } = c;
    if (typeof method !== 'string' || !METHOD_RE.test(method) || method.toLowerCase() === 'batch')
      throw new RuntimeFailure(`batch command "${k}": method must be a method name`);
    if (p !== undefined && p !== null && !isMap(p) && !Array.isArray(p))
      throw new RuntimeFailure(`params of batch command "${k}" must be a map or a list`);
    return encodeCommand(p === undefined || p === null ? { method } : { method, params: p });
  };
  if (Array.isArray(cmd)) return { ...params, cmd: cmd.map((c, i) => encodeOne(String(i), c)) };
  if (!isMap(cmd)) throw new RuntimeFailure(stringCommand('cmd'));
  const out: Record<string, string> = {};
  for (const [k, c] of Object.entries(cmd)) {
    if (!KEY_RE.test(k)) throw new RuntimeFailure(`batch command key "${k}" must use letters, digits, _ . - only`);
    out[k] = encodeOne(k, c);
  }
  return { ...params, cmd: out };
}
