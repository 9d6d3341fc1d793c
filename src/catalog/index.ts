/**
 * The method catalog: curated packs + recipes + the imported reference set, loaded once per process.
 *
 * Data flows one way: catalog → checker → compiler → runner → client. Consumers use {@link loadCatalog} and the
 * generated `MethodEntry` type; they never read catalog files themselves.
 *
 * Source: Bitrix24 REST docs (https://apidocs.bitrix24.com), facts imported by `npm run catalog:import`.
 */
export type {
  CatalogPack,
  DonePhrases,
  ListSemantics,
  MethodEffect,
  MethodEntry,
  MethodParam,
} from '../generated/catalog-pack.js';
export type { Recipe, RecipeStep } from '../generated/recipe.js';
export {
  commandParams,
  type EffectiveRisk,
  type EffectReason,
  type EffectsOf,
  effectApplies,
  effectiveRisk,
  isPureRead,
  looseEquals,
  maxRisk,
  riskBelow,
} from './effects.js';
export { clearCatalogCache, loadCatalog } from './load.js';
export { type Catalog, type CatalogMethod, PACK_NAMES, type PackInfo } from './model.js';
export { formatDone, pluralCategory } from './plural.js';
export type { RiskClass } from './risk.js';
export { stem } from './search.js';
