/** Shared helpers for the param rules: the catalog's param list and the step's params as a name → value map. */
import type { MethodParam } from '../../../generated/catalog-pack.js';
import type { MethodInfo } from '../../catalog.js';
import type { Step } from '../../load.js';

/** Step params keyed by name (positional lists mapped through the catalog order) with their document keys. */
export function namedParams(s: Step, m: MethodInfo): Map<string, { value: unknown; key: string | number }> {
  const out = new Map<string, { value: unknown; key: string | number }>();
  const p = s.params as unknown;
  if (Array.isArray(p)) {
    p.forEach((v, i) => {
      const def = m.params?.[i];
      out.set(def ? def.name.toLowerCase() : `#${i}`, { value: v, key: i });
    });
  } else if (p && typeof p === 'object') {
    for (const [k, v] of Object.entries(p)) out.set(k.toLowerCase(), { value: v, key: k });
  }
  return out;
}

/** Catalog params by lower-case name. */
export function paramDefs(m: MethodInfo): Map<string, MethodParam> {
  return new Map((m.params ?? []).map((p) => [p.name.toLowerCase(), p] as const));
}
