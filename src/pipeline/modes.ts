/**
 * Run modes (seed semantics): shadow executes nothing and plans; canary runs reads and safe creates; full runs
 * everything, writes need a confirmation, destructive steps their own.
 */
import type { MethodInfo } from './catalog.js';
import { isInteractive } from './triggers.js';

/** How a run executes writes. */
export type RunMode = 'shadow' | 'canary' | 'full';

/**
 * Safe creates allowed in canary: write-class methods that only add a new CRM or task record/comment
 * (crm.deal.add, crm.activity.add, crm.timeline.comment.add, tasks.task.add, task.commentitem.add, ...).
 * Updates, deletions, bindings, messages to people and portal configuration are not.
 */
export function isSafeCreate(m: MethodInfo): boolean {
  if (m.risk !== 'write') return false;
  const scope = (m.scope ?? '').toLowerCase();
  if (!['crm', 'task', 'tasks'].includes(scope)) return false;
  return /\.add$/i.test(m.name);
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
