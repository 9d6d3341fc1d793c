/**
 * Search and routing over the loaded catalog, in Russian and English, with word forms folded by the Snowball
 * stemmers (удалить ~ удаляет, сделку ~ сделка, deleting ~ delete, deals ~ deal).
 *
 * Stemmer: `@orama/stemmers` (Apache-2.0, the Orama search engine's Snowball ports): one ESM file per language
 * (~7 kB for Russian, ~2 kB for English, loaded by subpath), no dependencies, no native code, typed, released with
 * Orama (3.x). The alternatives were older or heavier: `snowball-stemmers` (last release years ago, CommonJS,
 * all languages in one module), `natural` (Porter stemmers among a large NLP toolkit with database drivers in its
 * dependencies), `multilingual-stemmer` (WebAssembly).
 *
 * Ranking of a query (`Catalog.search`): the exact method name first; then, for each query word, the best of a
 * match in the method name's parts (directly or through the catalog's `synonyms`: удалить → delete), in the
 * summary/entity/`done` phrases, and in the pack vocabulary. Every word (stop words aside) must match somewhere.
 */
import { stemmer as stemEn } from '@orama/stemmers/english';
import { stemmer as stemRu } from '@orama/stemmers/russian';
import type { MethodEntry, PackVocabulary } from '../generated/catalog-pack.js';
import type { CatalogMethod, PackInfo } from './model.js';
import type { CompiledIndex } from './store.js';

/**
 * The Snowball stem of one word, lower-cased with ё → е: Russian rules for Cyrillic words, English (Porter2) for
 * Latin ones, other words unchanged (сделку → сделк, deleting → delet).
 */
export function stem(word: string): string {
  const hit = stems.get(word);
  if (hit !== undefined) return hit;
  const w = word.toLowerCase().replace(/ё/g, 'е');
  const out = /[а-я]/.test(w) ? stemRu(w) : /^[a-z]/.test(w) ? stemEn(w) : w;
  if (stems.size >= STEM_CACHE_MAX) stems.clear();
  stems.set(word, out);
  return out;
}

/** Memo of {@link stem}: the catalog's texts repeat a few thousand words, and every search compares them. */
const stems = new Map<string, string>();
const STEM_CACHE_MAX = 50_000;

/** Lower-cased words of a text (letters, digits, `_ . -`). */
export function tokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/ё/g, 'е')
    .split(/[^\p{L}\p{N}_.-]+/u)
    .filter((t) => t.length > 0);
}

/** Words of a text for matching: {@link tokens} split at `.` and `_`, trailing `-` dropped. */
function words(text: string): string[] {
  return tokens(text)
    .flatMap((t) => t.split(/[._]+/))
    .map((t) => t.replace(/^-+|-+$/g, ''))
    .filter((t) => t.length > 0);
}

/**
 * True when the word `t` is a form of the word whose stem is `s`: same stem, or `t` starts with `s` (Russian verb
 * forms stem apart: удаляет → удаля, удалить → удал). Stems under 3 letters must be equal.
 */
function sameWord(t: string, s: string): boolean {
  return s.length >= 3 ? t.startsWith(s) || stem(t) === s : stem(t) === s;
}

/**
 * True when `term` (one or more words) occurs in `text` at word starts. A word of the text matches a term word that
 * it starts with (vocabulary terms may be written as stems: `сделк`) or that has the same Snowball stem.
 */
export function mentions(textTokens: string[], term: string): boolean {
  const parts = tokens(term);
  if (parts.length === 0) return false;
  const stems = parts.map(stem);
  for (let i = 0; i + parts.length <= textTokens.length; i++) {
    let ok = true;
    for (let j = 0; j < parts.length; j++) {
      const t = textTokens[i + j]!;
      if (!(t.startsWith(parts[j]!) || sameWord(t, stems[j]!))) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

/** What {@link searchMethods} searches: the curated entries by lower-cased name, the packs, the reference map. */
export interface SearchSpace {
  curated: Map<string, CatalogMethod>;
  packByName: Map<string, PackInfo>;
  reference: CompiledIndex['reference'];
  /** Name part → en/ru words asking for it, merged over the packs (`synonyms` of schemas/catalog-pack). */
  synonyms: Map<string, PackVocabulary>;
}

/** Words that carry no meaning in a method query ("найти дубликаты по телефону", "find duplicates by phone"). */
const STOP = new Set(
  (
    'в во на по к ко с со и или для из от у о об при до за под над про а the a an to of for by in on with and or ' +
    'from as at into'
  ).split(' '),
);

/** Per-word score of each field kind: name part > summary/entity/done phrase > pack vocabulary. */
const TIER = { name: 6, referenceName: 4, text: 3, vocabulary: 1 } as const;

interface QueryWord {
  raw: string;
  stem: string;
}

const partsMemo = new Map<string, string[]>();

/** Parts of a method name, lower-cased: segments and their camelCase words (`uploadFile` → uploadfile, upload, file). */
function nameParts(name: string): string[] {
  const hit = partsMemo.get(name);
  if (hit) return hit;
  const out = new Set<string>();
  for (const seg of name.split(/[._]+/)) {
    if (!seg) continue;
    out.add(seg.toLowerCase());
    for (const w of seg.split(/(?<=[a-z0-9])(?=[A-Z])/)) out.add(w.toLowerCase());
  }
  const parts = [...out];
  partsMemo.set(name, parts);
  return parts;
}

/**
 * For one query: the query words each synonym key stands for (`delete` → the index of "удалить"), found once per
 * query so that matching a method name is only a look-up of its parts.
 */
function synonymHits(synonyms: Map<string, PackVocabulary>, qs: QueryWord[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [key, v] of synonyms) {
    const idx = new Set<number>();
    for (const phrase of [...v.en, ...v.ru]) {
      const at = words(phrase).map((w) => {
        const s = stem(w);
        return qs.findIndex((q) => q.stem === s || sameWord(q.raw, s));
      });
      if (at.length > 0 && at.every((i) => i >= 0)) for (const i of at) idx.add(i);
    }
    if (idx.size > 0) out.set(key, [...idx]);
  }
  return out;
}

/**
 * The query words the method name's parts stand for (directly or through a synonym), by index: 1 when a part is the
 * word itself, 0.5 when the word only starts a part (`find` in `findbycomm`, `user` in `userconsent`).
 */
function nameMatches(parts: string[], qs: QueryWord[], synHits: Map<string, number[]>): Map<number, number> {
  const hit = new Map<number, number>();
  const put = (i: number, v: number) => hit.set(i, Math.max(hit.get(i) ?? 0, v));
  qs.forEach((q, i) => {
    if (parts.some((p) => p === q.raw || stem(p) === q.stem)) put(i, 1);
    else if (q.raw.length >= 3 && parts.some((p) => p.startsWith(q.raw) || sameWord(p, q.stem))) put(i, 0.5);
  });
  for (const [key, idx] of synHits) {
    const exact = parts.includes(key);
    if (!exact && !(key.length >= 4 && parts.some((p) => p.startsWith(key)))) continue;
    for (const i of idx) put(i, exact ? 1 : 0.5);
  }
  return hit;
}

const textMemo = new WeakMap<MethodEntry, string[]>();

/** Words of a curated entry's texts: summary (en, ru), entity, `done` phrases. */
function entryText(m: MethodEntry): string[] {
  const hit = textMemo.get(m);
  if (hit) return hit;
  const done = Object.values(m.done ?? {}).flatMap((forms) => Object.values(forms as Record<string, string>));
  const out = words(`${m.summary?.en ?? ''} ${m.summary?.ru ?? ''} ${m.entity ?? ''} ${done.join(' ')}`).filter(
    (w) => w !== 'n',
  );
  textMemo.set(m, out);
  return out;
}

/**
 * Ranked search over curated methods (name, summary en/ru, entity, `done` phrases, pack vocabulary) and reference
 * names; every query word but stop words must match (`Catalog.search` of ./model.ts).
 */
export function searchMethods(
  text: string,
  opts: { packs?: string[]; limit?: number },
  space: SearchSpace,
): CatalogMethod[] {
  const { curated, packByName, synonyms } = space;
  const all = words(text);
  const kept = all.filter((w) => !STOP.has(w));
  const qs: QueryWord[] = (kept.length ? kept : all).map((raw) => ({ raw, stem: stem(raw) }));
  if (qs.length === 0) return [];
  const whole = tokens(text).join(' ');
  const allowed = opts.packs ? new Set(opts.packs) : undefined;
  const synHits = synonymHits(synonyms, qs);
  // Per pack, which query words its vocabulary covers (12 packs: once per query, not once per method).
  const vocabHits = new Map<string, boolean[]>();
  for (const [name, p] of packByName) {
    const vocab = [...p.vocabulary.en, ...p.vocabulary.ru];
    vocabHits.set(
      name,
      qs.map((q) => vocab.some((v) => mentions([q.raw], v) || mentions(tokens(v), q.raw))),
    );
  }
  const scored: Array<{ m: CatalogMethod; score: number }> = [];
  for (const m of curated.values()) {
    if (allowed && !allowed.has(m.pack!)) continue;
    const vocab = vocabHits.get(m.pack!);
    const nameL = m.name.toLowerCase();
    if (nameL === whole) {
      scored.push({ m, score: 1000 });
      continue;
    }
    const byName = nameMatches(nameParts(m.name), qs, synHits);
    const body = entryText(m);
    let score = 0;
    let all = true;
    qs.forEach((q, i) => {
      const inText = body.some((t) => sameWord(t, q.stem));
      let s = 0;
      const n = byName.get(i);
      if (n) s = TIER.name * n + (inText ? 0.5 : 0);
      else if (inText) s = TIER.text;
      else if (vocab?.[i]) s = TIER.vocabulary;
      if (s === 0) all = false;
      score += s;
    });
    if (all) scored.push({ m, score: score + (m.deprecated ? 0 : 0.5) });
  }
  if (!allowed) {
    for (const [key, row] of Object.entries(space.reference)) {
      if (curated.has(key)) continue;
      const stub = (): CatalogMethod => ({ ...referenceStub(row), curated: false });
      if (key === whole) {
        scored.push({ m: stub(), score: 1000 });
        continue;
      }
      const byName = nameMatches(nameParts(row[0]), qs, synHits);
      if (qs.every((q, i) => byName.has(i) || key.includes(q.raw))) {
        const score = qs.reduce((n, _q, i) => n + TIER.referenceName * (byName.get(i) ?? 0.5), 0);
        scored.push({ m: stub(), score: score - (row[3] === 1 ? 0.5 : 0) });
      }
    }
  }
  // Ties: the shorter (more general) name first, then alphabetical.
  scored.sort((a, b) => b.score - a.score || a.m.name.length - b.m.name.length || a.m.name.localeCompare(b.m.name));
  const out = scored.map((s) => s.m);
  return opts.limit ? out.slice(0, opts.limit) : out;
}

/** Packs whose vocabulary the text mentions, most mentions first (ties in pack order); `['core']` when none. */
export function routeToPacks(text: string, packs: PackInfo[], order: Map<string, number>): string[] {
  const tks = tokens(text);
  const hits: Array<[string, number]> = [];
  for (const p of packs) {
    let n = 0;
    for (const v of [...p.vocabulary.en, ...p.vocabulary.ru]) if (mentions(tks, v)) n++;
    if (n > 0) hits.push([p.name, n]);
  }
  if (hits.length === 0) return ['core'];
  hits.sort((a, b) => b[1] - a[1] || (order.get(a[0]) ?? 99) - (order.get(b[0]) ?? 99));
  return hits.map((h) => h[0]);
}

/** Merges the packs' `synonyms` (name part → en/ru words); a part listed by two packs gets both lists. */
export function mergeSynonyms(
  packs: Array<{ synonyms?: Record<string, PackVocabulary> }>,
): Map<string, PackVocabulary> {
  const out = new Map<string, PackVocabulary>();
  for (const p of packs) {
    for (const [key, v] of Object.entries(p.synonyms ?? {})) {
      const prev = out.get(key);
      out.set(key, prev ? { en: [...prev.en, ...v.en], ru: [...prev.ru, ...v.ru] } : v);
    }
  }
  return out;
}

/** A light entry built from the reference name map (search results; `method()` returns the full entry). */
export function referenceStub(row: CompiledIndex['reference'][string]): MethodEntry {
  return { name: row[0], scope: row[4], risk: row[2], risk_source: 'heuristic', deprecated: row[3] === 1 };
}
