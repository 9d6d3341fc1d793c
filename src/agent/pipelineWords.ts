import type { CatalogView } from './engine.js';

/** Placeholder until the words helper lands (replaced by the merge). */
export function describePipeline(doc: Record<string, unknown>, _catalog: CatalogView, _lang: 'en' | 'ru'): string {
  return String(doc.name ?? '');
}
