import cronstrueModule from 'cronstrue/i18n.js';
import type { CatalogView } from './engine.js';
import { riskWord } from './format.js';
import { methodWords } from './methodWords.js';

/**
 * A pipeline in short plain words for a chat user: shown above a plan when the planner proposes a pipeline, and when
 * a user opens a saved pipeline to edit it. Only the name, description, triggers, approvers and step ids, methods
 * and expressions (shortened) are shown: never params, env values or other data, so no secrets.
 */

/**
 * cronstrue is CommonJS: Node's default import is its module.exports (`{ toString, default }`), a bundler's (vitest,
 * tsx) may be its `default` (the class); both have the static `toString(cron, options)`.
 */
const cronstrue = cronstrueModule.default ?? (cronstrueModule as unknown as typeof cronstrueModule.default);

type Lang = 'en' | 'ru';

/** Steps listed before "… and N more". */
const MAX_STEPS = 8;

/** Words of the description, `[en, ru]`; `%` is replaced by a value. */
const W = {
  pipeline: ['Pipeline', 'Пайплайн'],
  manual: ['Runs when started (chat, CLI)', 'Запускается вручную (чат, CLI)'],
  schedule: ['Schedule', 'По расписанию'],
  event: ['When % arrives', 'Когда приходит %'],
  or: [' or ', ' или '],
  chat: ['In chat', 'В чате'],
  ask: ['writes are asked of approvers', 'изменения утверждают согласующие'],
  noApprovers: ['writes wait for approval (no approvers set)', 'изменения ждут согласования (согласующие не заданы)'],
  auto: ['writes without asking (approve: %)', 'изменения без подтверждения (approve: %)'],
  stillAsked: [', deletions are still asked', ', удаления всё равно подтверждаются'],
  approvers: ['Approvers', 'Согласующие'],
  heads: ['heads of department %', 'руководители отдела %'],
  owner: ['the record owner', 'ответственный за запись'],
  min: ['at least %', 'не менее %'],
  steps: ['Steps', 'Шаги'],
  if: ['if', 'если'],
  forEach: ['for each item of', 'для каждого элемента из'],
  over: ['an expression over', 'выражения по'],
  confirm: ['always asked', 'всегда с подтверждением'],
  recipe: ['recipe', 'рецепт'],
  sub: ['pipeline', 'пайплайн'],
  more: ['… and % more', '… и ещё %'],
  quote: ['“%”', '«%»'],
} satisfies Record<string, [string, string]>;

/** A word of {@link W} in `lang`, with `value` in place of `%`. */
function w(key: keyof typeof W, lang: Lang, value?: unknown): string {
  // a function replacement: a name or phrase with `$&` or `$'` is inserted as written
  return W[key][lang === 'ru' ? 1 : 0].replace('%', () => String(value ?? ''));
}

/**
 * Describes a pipeline document in short plain words (one line each, ≤ ~12 lines for the shipped examples):
 *  1. `Pipeline “<name>”: <first line of the description>`;
 *  2. one line per trigger: a schedule's cron in words (cronstrue, 24-hour clock; the raw cron when it cannot read
 *     it) with its time zone, an event's names and `if`, a chat command and phrases; schedule and event lines say how
 *     their writes are approved (`approve: ask` or none → the approvers, `write` → without asking); then the
 *     pipeline's `approvers` (users `#id`, heads of departments, the record owner, `min`); no triggers → started by
 *     hand;
 *  3. `• <id>: <what> (<risk>)` per step, at most 8, then `… and N more`: a method in words (`crm.deal.list` → read
 *     deals, `crm.timeline.comment.add` → add timeline comments; destructive ones marked ⚠) with its catalog risk, a
 *     recipe by its title, `foreach` and `if` shortened.
 * Deterministic (no dates); tolerant of partial documents (a planner proposal before it is checked).
 * @param doc a pipeline document: planner JSON or a parsed `pipelines/*.yaml` (schemas/pipeline.schema.json)
 * @param catalog method risks and recipe titles
 * @param lang the chat user's language
 * @returns plain text, lines joined with `\n`
 */
export function describePipeline(doc: Record<string, unknown>, catalog: CatalogView, lang: Lang): string {
  const steps = records(doc.steps);
  const lines: string[] = [];
  const name = typeof doc.name === 'string' ? doc.name : '';
  const desc = typeof doc.description === 'string' ? firstSentence(doc.description) : '';
  lines.push(`${w('pipeline', lang)}${name ? ` ${w('quote', lang, name)}` : ''}${desc ? `: ${desc}` : ''}`);

  const approvers = isRecord(doc.approvers) ? doc.approvers : undefined;
  const destructive = steps.some((s) => stepRisk(s, catalog) === 'destructive');
  const triggers = records(doc.triggers);
  const pipelineTz = typeof doc.timezone === 'string' ? doc.timezone : undefined;
  for (const tr of triggers) {
    const schedule = isRecord(tr.schedule) ? tr.schedule : undefined;
    const event = isRecord(tr.event) ? tr.event : undefined;
    const chat = isRecord(tr.chat) ? tr.chat : undefined;
    if (schedule) {
      const tz = typeof schedule.timezone === 'string' ? schedule.timezone : pipelineTz;
      const when = `${w('schedule', lang)}: ${cronWords(String(schedule.cron ?? ''), lang)}${tz ? ` (${tz})` : ''}`;
      lines.push(`${when}; ${approval(schedule.approve, approvers, destructive, lang)}`);
    } else if (event) {
      const names = Array.isArray(event.events) ? event.events.map(String).join(w('or', lang)) : '?';
      const cond = typeof event.if === 'string' ? `, ${w('if', lang)} ${shortExpr(event.if, 60)}` : '';
      lines.push(`${w('event', lang, names)}${cond}; ${approval(event.approve, approvers, destructive, lang)}`);
    } else if (chat) {
      const phrases = Array.isArray(chat.phrases) ? chat.phrases.map((p) => w('quote', lang, p)) : [];
      const command = typeof chat.command === 'string' ? `/${chat.command}` : '';
      lines.push(
        `${w('chat', lang)}: ${command}${command && phrases.length ? w('or', lang) : ''}${phrases.join(', ')}`,
      );
    }
  }
  if (!triggers.length) lines.push(w('manual', lang));
  if (approvers) lines.push(`${w('approvers', lang)}: ${approverWords(approvers, lang)}`);

  lines.push(`${w('steps', lang)}:`);
  for (const s of steps.slice(0, MAX_STEPS)) lines.push(`• ${String(s.id ?? '?')}: ${stepWords(s, catalog, lang)}`);
  if (steps.length > MAX_STEPS) lines.push(w('more', lang, steps.length - MAX_STEPS));
  return lines.join('\n');
}

/** A cron (5 or 6 fields) in words, 24-hour clock; the raw cron when cronstrue cannot read it. */
function cronWords(cron: string, lang: Lang): string {
  try {
    const s = cronstrue.toString(cron, {
      locale: lang,
      use24HourTimeFormat: true,
      throwExceptionOnParseError: true,
    });
    return s.charAt(0).toLowerCase() + s.slice(1);
  } catch {
    return cron;
  }
}

/** How a schedule's or event's writes are approved (schemas/pipeline.schema.json, `approve`). */
function approval(approve: unknown, approvers: object | undefined, destr: boolean, lang: Lang): string {
  const list = approve === undefined ? [] : Array.isArray(approve) ? approve.map(String) : [String(approve)];
  if (list.includes('write')) {
    // destructive steps are never pre-approved (src/pipeline/triggers.ts)
    return w('auto', lang, list.join(', ')) + (destr && !list.includes('destructive') ? w('stillAsked', lang) : '');
  }
  return w(approvers ? 'ask' : 'noApprovers', lang);
}

/** The `approvers` block in words: users, heads of departments, the record owner, the minimum. */
function approverWords(a: Record<string, unknown>, lang: Lang): string {
  const who: string[] = [];
  if (Array.isArray(a.users)) who.push(...a.users.map((u) => `#${u}`));
  if (Array.isArray(a.departments) && a.departments.length) who.push(w('heads', lang, a.departments.join(', ')));
  if (a.record_owner === true) who.push(w('owner', lang));
  return who.join(', ') + (a.min !== undefined ? `; ${w('min', lang, a.min)}` : '');
}

/** One step in words: the method (or recipe, sub-pipeline) with its risk, then `foreach` and `if`. */
function stepWords(s: Record<string, unknown>, catalog: CatalogView, lang: Lang): string {
  const parts: string[] = [];
  const risk = stepRisk(s, catalog);
  const riskText = risk ? ` (${riskWord(risk, lang)})` : '';
  if (typeof s.method === 'string') {
    parts.push(`${risk === 'destructive' ? '⚠ ' : ''}${methodWords(s.method, s.params, lang)}${riskText}`);
  } else if (typeof s.use === 'string') {
    const use = s.use;
    const title = catalog.recipes?.find((r) => r.recipe === use)?.title?.[lang];
    parts.push(`${risk === 'destructive' ? '⚠ ' : ''}${title ?? `${w('recipe', lang)} ${use}`}${riskText}`);
  } else if (typeof s.pipeline === 'string') {
    parts.push(`${w('sub', lang)} ${s.pipeline}`);
  }
  if (typeof s.foreach === 'string') parts.push(`${w('forEach', lang)} ${shortExpr(s.foreach, 40, w('over', lang))}`);
  if (typeof s.if === 'string') parts.push(`${w('if', lang)} ${shortExpr(s.if, 60)}`);
  if (s.confirm === true) parts.push(w('confirm', lang));
  return parts.join(', ') || '?';
}

/** The highest catalog risk of a step: its method's, or the highest of its recipe's methods; undefined if unknown. */
function stepRisk(s: Record<string, unknown>, catalog: CatalogView): string | undefined {
  if (typeof s.method === 'string') return catalog.method(s.method)?.risk;
  if (typeof s.use !== 'string') return undefined;
  const recipe = catalog.recipes?.find((r) => r.recipe === s.use);
  const risks = records(recipe?.steps).map((r) => (typeof r.method === 'string' ? catalog.method(r.method)?.risk : ''));
  return ['destructive', 'write', 'read'].find((r) => risks.includes(r));
}

/**
 * An expression shortened for chat: `${{ … }}` stripped, spaces collapsed; when still longer than `max`, the
 * `steps.<id>` and `inputs.<name>` it reads (`an expression over steps.contacts, steps.leads`) when `over` is given,
 * else the text cut with `…`.
 */
function shortExpr(expr: string, max: number, over?: string): string {
  const inner = expr.trim().replace(/^\$\{\{([\s\S]*)\}\}$/, '$1');
  const e = inner.replace(/\s+/g, ' ').trim();
  if (e.length <= max) return e;
  const refs = [...new Set(e.match(/\b(?:steps|inputs)\.\w+/g) ?? [])];
  return over && refs.length ? `${over} ${refs.join(', ')}` : shorten(e, max);
}

/** The description's first line; when long, its first sentence, cut at a word to ~120 characters. */
function firstSentence(text: string): string {
  const line = (text.trim().split('\n')[0] ?? '').trim();
  if (line.length <= 120) return line;
  const end = line.indexOf('. ');
  const sentence = end > 0 ? line.slice(0, end + 1) : line;
  if (sentence.length <= 140) return sentence;
  const cut = sentence.slice(0, 120);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), 60)).replace(/[\s,;:(]+$/, '')}…`;
}

/** Text cut to `max` characters with `…`. */
function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1).trimEnd()}…`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function records(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}
