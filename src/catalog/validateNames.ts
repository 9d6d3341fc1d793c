/**
 * `catalog validate` rule on curated method names: each must be a documented one (see {@link checkReferenceName}).
 */
import type { MethodEntry } from '../generated/catalog-pack.js';
import { closest } from '../lib/closest.js';
import type { Finding } from '../lib/failures.js';
import type { YamlSource } from '../lib/yamlSource.js';
import { errorAt, warnAt } from './validateRisk.js';

/**
 * Rule `not-in-reference`: a curated name must be a documented one (the imported reference), unless the entry says
 * why the reference lacks it (`reference_gap`); catches invented and misspelt names, with the nearest documented
 * name as a suggestion. A `reference_gap` on a name the reference has is a warning. No check without a reference.
 */
export function checkReferenceName(
  src: YamlSource,
  ptr: string,
  m: MethodEntry,
  names: Map<string, string>,
): Finding[] {
  if (names.size === 0) return [];
  const listed = names.has(m.name.toLowerCase());
  if (!listed && !m.reference_gap) {
    const near = closest(m.name, names.values());
    const hint = near ? `; did you mean ${near}?` : '';
    return [
      errorAt(
        src,
        `${ptr}/name`,
        `method ${m.name} is not in the reference catalog${hint} (a documented method the reference lacks needs "reference_gap")`,
        'not-in-reference',
      ),
    ];
  }
  if (listed && m.reference_gap) {
    return [
      warnAt(
        src,
        `${ptr}/reference_gap`,
        `${m.name} is in the reference catalog; drop "reference_gap"`,
        'not-in-reference',
      ),
    ];
  }
  return [];
}
