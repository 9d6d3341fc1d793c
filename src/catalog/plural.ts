import type { MethodEntry } from '../generated/catalog-pack.js';

/**
 * CLDR plural category of an integer count: English one/other; Russian one/few/many (other for fractions).
 * @param n count (integer; fractions give `other`)
 */
export function pluralCategory(locale: 'en' | 'ru', n: number): 'one' | 'few' | 'many' | 'other' {
  if (!Number.isInteger(n)) return 'other';
  const a = Math.abs(n);
  if (locale === 'en') return a === 1 ? 'one' : 'other';
  const m10 = a % 10;
  const m100 = a % 100;
  if (m10 === 1 && m100 !== 11) return 'one';
  if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return 'few';
  return 'many';
}

/**
 * The user-facing "what happened" line of a write: `formatDone(crm.deal.add, 3, 'ru')` → "Создано 3 сделки".
 * @returns undefined when the entry has no `done` phrases (reads, reference entries)
 */
export function formatDone(
  entry: Pick<MethodEntry, 'done'>,
  n: number,
  locale: 'en' | 'ru' = 'en',
): string | undefined {
  const forms = entry.done?.[locale] as Record<string, string | undefined> | undefined;
  if (!forms) return undefined;
  const phrase = forms[pluralCategory(locale, n)] ?? forms.other;
  return phrase?.replace('{n}', String(n));
}
