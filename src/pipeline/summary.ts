/**
 * Friendly end-of-run summaries in the user's language from the catalog's `done` phrases
 * ("Создано 12 задач", "Updated 3 deals"): no ids or method names unless verbose.
 */
import type { MethodInfo } from './catalog.js';
import type { StepRecord } from './journal.js';

/**
 * The user's language from an environment the caller passes (the CLI passes `process.env`): B24FLOW_LANG, then
 * LC_ALL, then LANG (ru* → ru), default en. Without an environment: en.
 */
export function userLanguage(env: NodeJS.ProcessEnv = {}): 'en' | 'ru' {
  const l = (env.B24FLOW_LANG ?? env.LC_ALL ?? env.LANG ?? 'en').toLowerCase();
  return l.startsWith('ru') ? 'ru' : 'en';
}

/** CLDR plural category for a count. */
export function pluralCategory(n: number, lang: 'en' | 'ru'): 'one' | 'few' | 'many' | 'other' {
  if (lang === 'en') return n === 1 ? 'one' : 'other';
  if (!Number.isInteger(n)) return 'other';
  const m10 = n % 10;
  const m100 = n % 100;
  if (m10 === 1 && m100 !== 11) return 'one';
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return 'few';
  return 'many';
}

const T = {
  en: {
    read: (n: number, e: string) => `Read ${n} ${e}${n === 1 ? '' : 's'}`,
    wrote: (n: number, e: string) => `Changed ${n} ${e}${n === 1 ? '' : 's'}`,
    existing: (n: number) => `${n} already done earlier (skipped)`,
    earlier: (n: number) => ` (${n} of them before the run was resumed)`,
    planned: (n: number, e: string) => `Would change ${n} ${e}${n === 1 ? '' : 's'}`,
    refused: (e: string, r: string) => `Not done (${e}): ${r}`,
    failed: (n: number, e: string) => `${n} failed (${e})`,
    uncertain: (n: number, e: string) => `${n} not confirmed by the portal (${e}): answer lost`,
    skipped: (id: string, r: string) => `Skipped ${id}: ${r}`,
    nothing: 'Nothing to do',
  },
  ru: {
    read: (n: number, e: string) => `Прочитано записей (${e}): ${n}`,
    wrote: (n: number, e: string) => `Изменено (${e}): ${n}`,
    existing: (n: number) => `${n} уже сделано ранее (пропущено)`,
    earlier: (n: number) => ` (из них ${n} до возобновления запуска)`,
    planned: (n: number, e: string) => `Будет изменено (${e}): ${n}`,
    refused: (e: string, r: string) => `Не выполнено (${e}): ${r}`,
    failed: (n: number, e: string) => `Ошибок (${e}): ${n}`,
    uncertain: (n: number, e: string) => `Не подтверждено порталом (${e}): ${n}, ответ потерян`,
    skipped: (id: string, r: string) => `Пропущен шаг ${id}: ${r}`,
    nothing: 'Делать нечего',
  },
};

/** The `done` phrase for n writes of a method, e.g. "Создано 12 задач". */
export function donePhrase(m: MethodInfo | undefined, n: number, lang: 'en' | 'ru'): string {
  const forms = m?.done?.[lang] as Record<string, string | undefined> | undefined;
  const entity = m?.entity ?? 'record';
  if (!forms) return T[lang].wrote(n, entity);
  const cat = pluralCategory(n, lang);
  const form = forms[cat] ?? forms.other ?? forms.many ?? forms.one ?? '';
  return form.replace('{n}', String(n));
}

/**
 * Summary lines per step in one language. Steps that only read are summarised only when `verbose`. Writes count
 * what the portal confirmed: created (an answer came back) and found (done earlier, or found on the portal by the
 * method's `reconcile`); a resumed run counts all its own writes, saying how many came before the resume; writes whose answer was lost are counted apart as not confirmed, never as created.
 * With `verbose`, each line carries the step id and method.
 */
export function summarize(
  steps: StepRecord[],
  method: (name: string | undefined) => MethodInfo | undefined,
  lang: 'en' | 'ru',
  verbose = false,
): string[] {
  const t = T[lang];
  const lines: string[] = [];
  for (const s of steps) {
    const m = method(s.method);
    const entity = m?.entity ?? s.entity ?? 'record';
    const tag = verbose ? ` [${s.id}${s.method ? ` ${s.method}` : ''}]` : '';
    const isWrite = s.risk === 'write' || s.risk === 'destructive';
    if (s.status === 'refused') lines.push(`${t.refused(entity, s.reason ?? '')}${tag}`);
    else if (s.status === 'skipped') {
      if (verbose) lines.push(`${t.skipped(s.id, s.reason ?? '')}${tag}`);
    } else if (s.status === 'planned' && isWrite) {
      if (s.items) lines.push(`${t.planned(s.items, entity)}${tag}`);
    } else if (isWrite) {
      if (s.done) lines.push(`${donePhrase(m, s.done, lang)}${s.earlier ? t.earlier(s.earlier) : ''}${tag}`);
      if (s.existing) lines.push(`${t.existing(s.existing)}${tag}`);
    } else if (verbose && s.done) lines.push(`${t.read(s.done, entity)}${tag}`);
    if (s.failed) lines.push(`${t.failed(s.failed, entity)}${tag}`);
    if (s.uncertain) lines.push(`${t.uncertain(s.uncertain, entity)}${tag}`);
  }
  if (!lines.length) lines.push(t.nothing);
  return lines;
}
