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
      .slice(0, Math.max(0, 8 - req.length))
      .map((x) => x.f);
    const more = p.fields.length - req.length - opt.length;
    const inner = [...req, ...opt].map((f) => paramText(f, depth + 1)).join(',');
    return `${p.name}${star}{${inner}${more > 0 ? ',…' : ''}}`;
  }
  const t = p.type && p.type !== 'string' ? `:${p.type}` : '';
  const values = p.values?.length && p.values.length <= 6 ? `=${p.values.join('|')}` : '';
  return `${p.name}${star}${t}${values}`;
}

/**
 * One method card line: `crm.deal.add [write] Creates a deal. params: fields*{TITLE*,OPPORTUNITY:number,...}
 * risk: OPPORTUNITY,ASSIGNED_BY_ID`. Deprecated, app-only and chat-denied methods are left out by the caller.
 */
export function methodCard(m: MethodCard, lang: 'en' | 'ru' = 'en'): string {
  const summary = (lang === 'ru' ? (m.summary?.ru ?? m.summary?.en) : (m.summary?.en ?? m.summary?.ru)) ?? '';
  const params = (m.params ?? []).map((p) => paramText(p, 0)).join(' ');
  const risk = m.risk_fields?.length ? ` risk:${m.risk_fields.join(',')}` : '';
  const pos = m.positional ? ' positional' : '';
  const dep = m.deprecated ? ' deprecated' : '';
  return `${m.name} [${m.risk}]${pos}${dep} ${summary.trim()}${params ? ` params: ${params}` : ''}${risk}`;
}

/**
 * Method cards the planner may use for the given packs: no app-only or chat-denied methods. Deprecated methods
 * stay (marked): the legacy CRM methods are deprecated in the docs yet work on every portal.
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
