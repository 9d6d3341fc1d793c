/**
 * The catalog's shapes as consumers see them: the pack names, a curated pack, a catalog entry and the loaded
 * {@link Catalog}.
 */
import type { LocalizedText, MethodEntry, PackVocabulary } from '../generated/catalog-pack.js';
import type { Recipe } from '../generated/recipe.js';

/** The twelve pack names, in display order. */
export const PACK_NAMES = [
  'core',
  'comms',
  'automation',
  'collab',
  'content',
  'boards',
  'commerce',
  'services',
  'platform',
  'sites',
  'compliance',
  'diagnostics',
] as const;

/** One curated pack as the API exposes it. */
export interface PackInfo {
  name: string;
  title: LocalizedText;
  /** Least-privilege webhook scopes the pack needs (scope codes such as `crm`, `task`, `im`). */
  scopes: string[];
  vocabulary: PackVocabulary;
  methods: MethodEntry[];
}

/** A catalog entry as returned by {@link Catalog.method}: `pack` is set for curated entries. */
export type CatalogMethod = MethodEntry & { pack?: string; curated: boolean };

/** The loaded catalog. */
export interface Catalog {
  /** Curated packs in {@link PACK_NAMES} order (unknown extra packs follow, sorted). */
  packs: PackInfo[];
  /** Looks a method up by name, case-insensitively: curated entry first, else the reference entry. */
  method(name: string): CatalogMethod | undefined;
  recipes: Recipe[];
  recipe(name: string): Recipe | undefined;
  /**
   * Ranked search over curated methods (name, summary en/ru, entity, `done` phrases, pack vocabulary) and reference
   * names, Russian and English, word forms folded by Snowball stemmers (удалить ~ удаляет, deals ~ deal). Order: the
   * exact method name, then matches in the name's parts (directly or through the packs' `synonyms`: удалить →
   * delete), then in the summary, then in the vocabulary. Every word but stop words (по, by, ...) must match.
   */
  search(words: string, opts?: { packs?: string[]; limit?: number }): CatalogMethod[];
  /** Union of the packs' scopes, sorted: the least-privilege webhook scope set. Throws InvalidInputError on an unknown pack. */
  scopesFor(packs: string[]): string[];
  /** Packs whose vocabulary the text mentions, most mentions first; `['core']` when none. */
  routePacks(text: string): string[];
  /** Number of reference methods (the whole documented set). */
  referenceSize: number;
  /** Every known method name (curated ∪ reference), documented case. */
  methodNames(): string[];
  /** Directory the catalog was loaded from. */
  dir: string;
  /** True when `catalog/index.json` was missing or out of date and the sources were compiled in memory. */
  stale: boolean;
}
