import type { CatalogView, MethodCard, ParamSpec } from './engine.js';

/**
 * Lean context for the planner: the message is routed to the fewest packs (catalog vocabulary, default `core`)
 * and only those packs' method cards are sent, one short line per method.
 */

/** Methods the chat planner may never propose, whatever the packs say: raw batches (the compiler batches),
 * event handler and application configuration, and portal-wide settings. */
export const CHAT_DENIED_METHODS: RegExp[] = [
  /^batch$/i,
  /^event\./i,
  /^placement\./i,
  /^app\./i,
  /^user\.(add|update)$/i,
  /^userfieldconfig\./i,
  /^imbot\./i,
];

/** True when the chat planner must not use `method`. */
export function isChatDenied(method: string): boolean {
  return CHAT_DENIED_METHODS.some((re) => re.test(method));
}

/** Packs for a message: the catalog's vocabulary routing, always non-empty, `core` by default. */
export function routeMessage(catalog: CatalogView, text: string): string[] {
  const packs = catalog.routePacks(text).filter((p) => catalog.packs.some((k) => k.name === p));
  return packs.length ? [...new Set(packs)] : ['core'];
}

/** Optional fields worth showing first: what users mention most in CRM requests. */
const COMMON_FIELDS = [
  'OPPORTUNITY',
  'CURRENCY_ID',
  'COMPANY_ID',
  'CONTACT_ID',
  'ASSIGNED_BY_ID',
  'RESPONSIBLE_ID',
  'STAGE_ID',
  'CATEGORY_ID',
  'DEADLINE',
  'NAME',
  'LAST_NAME',
  'PHONE',
  'EMAIL',
  'COMMENTS',
  'DESCRIPTION',
  'STATUS_ID',
  'SOURCE_ID',
];

/** Optional params a card leaves out: paging (`all: true` reads every page), format flags, the `params` flags object. */
const CARD_SKIPPED_PARAMS = new Set(['params', 'start', 'START', 'useOriginalUfNames', 'IMAGE_RESIZE', 'ADMIN_MODE']);

/** Shorter type names for the cards (the model reads them the same; fewer prompt tokens). */
const SHORT_TYPES: Record<string, string> = { integer: 'int', boolean: 'bool', array: '[]', object: '{}' };

function paramText(p: ParamSpec, depth: number): string {
  const star = p.required === true ? '*' : '';
  if (p.fields?.length && depth < 1) {
    // Nested fields: every required one, then the commonest optional ones, so usual requests need no lookups.
    const real = p.fields.filter((f) => !f.name.includes('...'));
    const req = real.filter((f) => f.required === true);
    const rank = (n: string) => {
      const i = COMMON_FIELDS.indexOf(n);
      return i < 0 ? COMMON_FIELDS.length : i;
    };
    const opt = real
      .filter((f) => f.required !== true)
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f.name) - rank(b.f.name) || a.i - b.i)
      .slice(0, Math.max(0, 6 - req.length))
      .map((x) => x.f);
    const more = p.fields.length - req.length - opt.length;
    const inner = [...req, ...opt].map((f) => paramText(f, depth + 1)).join(',');
    return `${p.name}${star}{${inner}${more > 0 ? ',…' : ''}}`;
  }
  const t = p.type && p.type !== 'string' ? `:${SHORT_TYPES[p.type] ?? p.type}` : '';
  const values = p.values?.length && p.values.length <= 6 ? `=${p.values.join('|')}` : '';
  return `${p.name}${star}${t}${values}`;
}

/**
 * One method card line: `crm.deal.add [write] Creates a deal. params: fields*{TITLE*,OPPORTUNITY:number,...}`.
 * Lean on purpose (every routed method is one line of the prompt): no short CRUD summaries, no risk fields or deprecation marks (the checker
 * and the plan show them), no optional paging or format params. App-only and chat-denied methods are left out by the
 * caller.
 */
export function methodCard(m: MethodCard, lang: 'en' | 'ru' = 'en'): string {
  let summary = (lang === 'ru' ? (m.summary?.ru ?? m.summary?.en) : (m.summary?.en ?? m.summary?.ru)) ?? '';
  // `crm.deal.get` "Returns one deal by id." says nothing its name does not: short CRUD summaries are left out
  if (/\.(get|list|add|update|delete)$/.test(m.name) && summary.trim().split(/\s+/).length <= 8) summary = '';
  const params = (m.params ?? [])
    .filter((p) => p.required === true || !CARD_SKIPPED_PARAMS.has(p.name))
    .map((p) => paramText(p, 0))
    .join(' ');
  const pos = m.positional ? ' positional' : '';
  return `${m.name} [${m.risk}]${pos}${summary.trim() ? ` ${summary.trim()}` : ''}${params ? ` params: ${params}` : ''}`;
}

/**
 * The recipes (`use:` steps) that fit the routed packs, one line each:
 * `deal-stage-task(deal_id*:int,deadline) Follow-up task for a deal's owner`.
 */
export function recipesForPacks(catalog: CatalogView, packs: string[], lang: 'en' | 'ru' = 'en'): string[] {
  return (
    (catalog.recipes ?? [])
      // A recipe fits when every pack its steps call is routed (a recipe calling outside them would be refused).
      .filter((r) => (r.packs ?? [r.pack]).every((p) => packs.includes(p)))
      .map((r) => {
        const inputs = Object.entries(r.inputs ?? {})
          .map(
            ([n, i]) =>
              `${n}${i.required === true ? '*' : ''}${i.type && i.type !== 'string' ? `:${SHORT_TYPES[i.type] ?? i.type}` : ''}`,
          )
          .join(',');
        const title = (lang === 'ru' ? (r.title?.ru ?? r.title?.en) : (r.title?.en ?? r.title?.ru)) ?? '';
        return `${r.recipe}(${inputs}) ${title}`.trim();
      })
  );
}

/**
 * Method cards the planner may use for the given packs: no app-only or chat-denied methods. Deprecated methods
 * stay (unmarked): the legacy CRM methods are deprecated in the docs yet work on every portal.
 */
export function cardsForPacks(catalog: CatalogView, packs: string[], lang: 'en' | 'ru' = 'en'): string[] {
  const out: string[] = [];
  for (const pack of catalog.packs) {
    if (!packs.includes(pack.name)) continue;
    for (const m of pack.methods) {
      if (m.auth === 'app' || isChatDenied(m.name)) continue;
      out.push(methodCard(m, lang));
    }
  }
  return out;
}

/** Every pack name of the catalog (for the full-catalog comparison prompt). */
export function allPacks(catalog: CatalogView): string[] {
  return catalog.packs.map((p) => p.name);
}

/** Guesses the message language: Cyrillic → `ru`, otherwise `en`. */
export function detectLang(text: string): 'en' | 'ru' {
  return /[а-яё]/i.test(text) ? 'ru' : 'en';
}
