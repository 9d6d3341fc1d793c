/**
 * What the agent answers (replies, buttons), the planner as the agent sees it, and the small language helpers the
 * agent's parts share: bilingual text, the degraded-mode notice, phrase normalization, `key=value` inputs and the
 * missing-field keys of checker findings.
 */
import type { NamedPipeline, PlanView, RunView } from './engine.js';
import type { PlannerResult } from './planner.js';
import type { AgentState } from './state.js';

/** The planner as the agent uses it (`Planner` of ./planner.ts, or a stub in benches). */
export interface PlannerLike {
  readonly available: boolean;
  plan(message: string, state: AgentState, warnings: string[]): Promise<PlannerResult>;
}

/** A button under a reply; `data` is the callback payload (`c:<planId>`, `d:<planId>`, `x:<planId>`). */
export interface ReplyButton {
  text: string;
  data: string;
}

/** What the agent answers; adapters render it (Telegram message + inline keyboard, HTTP JSON). */
export interface AgentReply {
  kind: 'plan' | 'answer' | 'refused' | 'degraded' | 'done' | 'info' | 'error';
  text: string;
  buttons?: ReplyButton[];
  planId?: string;
  plan?: PlanView;
  run?: RunView;
  /** Self-check warnings shown with the reply. */
  warnings?: string[];
}

/** The user's language picks the text: Russian when the conversation is in Russian, else English. */
export function t(state: AgentState, en: string, ru: string): string {
  return state.lang === 'ru' ? ru : en;
}

/** The reply when free text cannot be planned (no model configured). */
/**
 * The line shown under a planner pipeline that declares schedule or event triggers: confirming runs it once now;
 * the triggers are not installed from chat (saving pipelines is separate). Empty when there are none.
 */
export function triggerNote(state: AgentState, json: Record<string, unknown>): string {
  const triggers = Array.isArray(json.triggers) ? (json.triggers as Record<string, unknown>[]) : [];
  const kinds = triggers.flatMap((tr) => (tr && typeof tr === 'object' ? Object.keys(tr) : []));
  if (!kinds.some((k) => k === 'schedule' || k === 'event')) return '';
  return t(
    state,
    'Confirming runs it once now; its schedule/event trigger is not switched on from here: save it (/save <name>) and serve runs it by its trigger.',
    'Подтверждение запустит его один раз сейчас; расписание/событие отсюда не включается: сохраните его (/save <имя>), и serve будет запускать его сам.',
  );
}

export function degraded(state: AgentState): string {
  return t(
    state,
    'Free-text planning is off: no model is configured. Commands (/pipelines, /run <name>) and pipeline phrases still work.',
    'Свободный текст сейчас не обрабатывается: модель не настроена. Работают команды /pipelines, /run <имя> и фразы пайплайнов.',
  );
}

/**
 * Missing-field keys from checker findings: `crm.deal.add.fields.TITLE` from "crm.deal.add requires fields.TITLE",
 * else the finding's field path.
 */
export function missingFields(findings: { rule: string; message: string; field: string }[]): string[] {
  return findings
    .filter((f) => /required|missing/i.test(`${f.rule} ${f.message}`))
    .map((f) => {
      const m = /^(\S+) requires (?:param )?"?([\w.]+)"?/.exec(f.message);
      return m ? `${m[1]}.${m[2]}` : f.field || f.message.slice(0, 80);
    });
}

/** Lower-case, no punctuation, single spaces (for phrase matching). */
export function normalize(s: string): string {
  return s
    .toLowerCase()
    .replace(/ё/g, 'е')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/**
 * Parses `key=value` words into inputs typed by the pipeline's declared inputs (int/double → number,
 * bool → boolean, list → comma-split). Unknown keys are refused (returns the message).
 */
export function parseInputs(words: string[], p: NamedPipeline): Record<string, unknown> | string {
  const out: Record<string, unknown> = {};
  for (const w of words) {
    const i = w.indexOf('=');
    if (i <= 0) return `Expected key=value, got "${w}".`;
    const key = w.slice(0, i);
    const val = w.slice(i + 1);
    const decl = p.inputs?.[key];
    if (p.inputs && !decl) return `The pipeline "${p.name}" has no input "${key}".`;
    switch (decl?.type) {
      case 'int':
      case 'double':
      case 'number':
      case 'integer': {
        const n = Number(val);
        if (!Number.isFinite(n)) return `Input "${key}" must be a number.`;
        out[key] = n;
        break;
      }
      case 'bool':
      case 'boolean':
        out[key] = /^(1|true|yes|да)$/i.test(val);
        break;
      case 'list':
        out[key] = val.split(',').filter(Boolean);
        break;
      default:
        out[key] = val;
    }
  }
  return out;
}
