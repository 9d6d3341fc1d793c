/**
 * Run modes (seed semantics): shadow executes nothing and plans; canary runs reads and safe creates; full runs
 * everything, writes need a confirmation, destructive steps their own.
 */
import { effectiveRisk } from '../catalog/index.js';
import type { MethodInfo } from './catalog.js';
import { isInteractive } from './triggers.js';

/** How a run executes writes. */
export type RunMode = 'shadow' | 'canary' | 'full';

/**
 * Safe creates allowed in canary: write-class methods the catalog flags `canary: true` (a person decided that the
 * method only adds a new record, comment or checklist item and notifies nobody: crm.deal.add, crm.activity.add,
 * crm.timeline.comment.add, tasks.task.add, task.commentitem.add, task.checklistitem.add, entity.item.add).
 * Never derived from the method's name. A `batch` step (see {@link stepMethod}) is a safe create only when every
 * command is a read or a safe create.
 */
export function isSafeCreate(m: MethodInfo): boolean {
  return m.risk === 'write' && m.canary === true;
}

/** One command of a `batch` step, with its catalog entry when the method is known statically. */
export interface BatchStepCommand {
  key: string;
  /** Method name, when it is a literal (not an expression). */
  name?: string;
  method?: MethodInfo;
}

/**
 * The effective method of a step: its risk is the risk of the call with the step's params (catalog `effects`, e.g.
 * `event.offline.get` with the default `clear=1` deletes what it returns); for `batch` (risk from commands) the
 * worst risk of its commands, each with its own params.
 */
export type StepMethod = MethodInfo & { commands?: BatchStepCommand[] };

/** Params as an object for effects (positional lists and absent params: none sent). */
function paramsObject(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * A catalog entry with its risk raised by the effects that apply to `params` (unchanged when none applies). A step
 * that became a write or destructive is no safe create and is never sent by shadow or plan.
 */
function withEffects(m: MethodInfo, params: unknown): MethodInfo {
  if (!m.effects?.length) return m;
  const { risk } = effectiveRisk(m, paramsObject(params));
  return risk === m.risk ? m : { ...m, risk, canary: false };
}

/** Params of one structured batch command `{ method, params }`. */
function commandParamsOf(v: unknown): unknown {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as { params?: unknown }).params : undefined;
}

const RISK_ORDER = { read: 0, write: 1, destructive: 2 } as const;

/**
 * Literal method name of a structured batch command `{ method, params }`. A command written as text
 * (`"crm.deal.add?fields[TITLE]=x"`, a `$template`) or a method that is an expression has none: such a batch is
 * refused by `check` and at run time (src/pipeline/batchStep.ts), and counts as destructive until then.
 */
function commandName(v: unknown): string | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const m = (v as { method?: unknown }).method;
  return typeof m === 'string' && /^[A-Za-z][A-Za-z0-9_.]*$/.test(m) ? m : undefined;
}

/**
 * The catalog entry a step runs with. For methods with `risk_from_commands` (`batch`) the structured commands
 * (`{ method, params }`) in `params.cmd` are read statically: the result's `risk` is the worst risk of the commands,
 * `canary` holds only when every command is a read or a safe create, and a command written as text, whose method is
 * an expression or unknown to the catalog counts as destructive (nobody can tell what it does before the run). Such
 * a step is never batched itself.
 * @returns undefined for `use`/`pipeline` steps and unknown methods
 */
export function stepMethod(
  s: { method?: string; params?: unknown },
  catalog: { method(name: string): MethodInfo | undefined },
): StepMethod | undefined {
  const entry = s.method ? catalog.method(s.method) : undefined;
  if (!entry?.risk_from_commands) return entry && withEffects(entry, s.params);
  const m = entry;
  const cmd = s.params && typeof s.params === 'object' ? (s.params as { cmd?: unknown }).cmd : undefined;
  const entries: [string, unknown][] = Array.isArray(cmd)
    ? cmd.map((v, i) => [String(i), v])
    : cmd && typeof cmd === 'object' && !('$template' in cmd)
      ? Object.entries(cmd)
      : [['cmd', undefined]];
  const commands: BatchStepCommand[] = entries.map(([key, v]) => {
    const name = commandName(v);
    const known = name ? catalog.method(name) : undefined;
    const method = known && withEffects(known, commandParamsOf(v));
    return { key, ...(name ? { name } : {}), ...(method ? { method } : {}) };
  });
  let risk: MethodInfo['risk'] = m.risk;
  for (const c of commands) {
    const r = c.method?.risk ?? 'destructive';
    if (RISK_ORDER[r] > RISK_ORDER[risk]) risk = r;
  }
  const canary =
    risk === 'write' && commands.every((c) => c.method && (c.method.risk === 'read' || isSafeCreate(c.method)));
  const riskFields = [...new Set(commands.flatMap((c) => c.method?.risk_fields ?? []))];
  return { ...m, risk, canary, batchable: false, commands, ...(riskFields.length ? { risk_fields: riskFields } : {}) };
}

/** Permission inputs of one write step. */
export interface Permission {
  mode: RunMode;
  confirmWrite: boolean;
  confirmDestructive: boolean;
  triggerKind: string;
  /** `confirm: true` on the step */
  forceConfirm: boolean;
}

/** Why a write step may not run, or undefined when it may. */
export function refusalReason(m: MethodInfo, p: Permission, lang: 'en' | 'ru' = 'en'): string | undefined {
  const ru = lang === 'ru';
  if (p.mode === 'shadow') return ru ? 'режим shadow: только план' : 'shadow mode: plan only';
  if (p.mode === 'canary') {
    const cm = m as StepMethod;
    for (const c of cm.commands ?? []) {
      if (c.method && (c.method.risk === 'read' || isSafeCreate(c.method))) continue;
      const what = c.name ? `${c.name}${c.method ? '' : ', not in the catalog'}` : 'method not known before the run';
      return ru
        ? `canary выполняет batch, только если каждая команда — чтение или безопасное создание; команда "${c.key}" (${what}) — в режиме full`
        : `canary runs a batch only when every command is a read or a safe create; command "${c.key}" (${what}) needs --mode full`;
    }
    if (!isSafeCreate(m))
      return ru
        ? `canary выполняет только безопасное создание записей; ${m.risk === 'destructive' ? 'удаление' : 'изменение'} — в режиме full`
        : `canary runs only safe creates; this ${m.risk === 'destructive' ? 'destructive step' : 'change'} needs --mode full`;
    return undefined;
  }
  const attended = isInteractive(p.triggerKind as 'cli');
  if (m.risk === 'destructive') {
    if (!attended)
      return ru
        ? 'удаление нельзя подтвердить заранее в триггере'
        : 'destructive steps cannot be pre-approved by an unattended trigger';
    if (!p.confirmDestructive) return ru ? 'нужно подтверждение --confirm-destructive' : 'needs --confirm-destructive';
  }
  if (p.forceConfirm && !attended)
    return ru
      ? 'шаг требует подтверждения человеком (confirm: true)'
      : 'the step requires a person to confirm (confirm: true)';
  if (!p.confirmWrite) return ru ? 'нужно подтверждение --confirm-write' : 'needs --confirm-write';
  return undefined;
}
