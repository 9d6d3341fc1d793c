/**
 * `catalog validate` rules about risk: a curated entry may raise a method's risk, never lower it below what the
 * reference knows (rule risk-downgrade, effects-downgrade), and every param-dependent effect names a param the
 * method declares (rule unknown-effect-param) with one condition (rule effect-condition; effect-redundant warns).
 * See src/catalog/effects.ts for what effects mean at run time.
 */
import type { MethodEntry, MethodParam } from '../generated/catalog-pack.js';
import type { Finding } from '../lib/failures.js';
import type { YamlSource } from '../lib/yamlSource.js';
import { riskBelow } from './effects.js';
import { classifyByVerb } from './risk.js';

/** An error finding at a JSON pointer of a source file (position from the YAML source map). */
export function errorAt(src: YamlSource, pointer: string, message: string, rule: string): Finding {
  const pos = src.locate(pointer);
  return { file: src.file, line: pos.line, col: pos.col, field: pointer, message, rule, severity: 'error' };
}

/** A warning finding at a JSON pointer of a source file. */
export function warnAt(src: YamlSource, pointer: string, message: string, rule: string): Finding {
  return { ...errorAt(src, pointer, message, rule), severity: 'warning' };
}

/**
 * Checks that each effect of `m` names a declared top-level param (case-insensitive, as Bitrix24 matches keys), has
 * at most one of `when`/`unless`, and raises the risk above the method's own (else only a warning: the effect never
 * changes anything).
 *
 * @param declared the params the method declares (for a curated entry: its own, else the reference's)
 */
export function checkEffects(
  src: YamlSource,
  ptr: string,
  m: MethodEntry,
  declared: MethodParam[] | undefined,
): Finding[] {
  const out: Finding[] = [];
  const names = new Set((declared ?? []).map((p) => p.name.toLowerCase()));
  (m.effects ?? []).forEach((e, i) => {
    if (!names.has(e.param.toLowerCase())) {
      out.push(
        errorAt(
          src,
          `${ptr}/effects/${i}/param`,
          `effect of ${m.name} names param "${e.param}", which the method does not declare`,
          'unknown-effect-param',
        ),
      );
    }
    if (e.when && e.unless) {
      out.push(
        errorAt(
          src,
          `${ptr}/effects/${i}`,
          `effect of ${m.name} on "${e.param}" has both "when" and "unless"; state one of them`,
          'effect-condition',
        ),
      );
    }
    if (!riskBelow(m.risk, e.risk)) {
      out.push(
        warnAt(
          src,
          `${ptr}/effects/${i}/risk`,
          `effect risk ${e.risk} does not raise ${m.name}'s own risk ${m.risk}`,
          'effect-redundant',
        ),
      );
    }
  });
  return out;
}

/**
 * Checks that a curated entry does not lower what the reference says: its `risk` is not below a reviewed
 * reference row's risk (`risk_source` other than heuristic), nor below `destructive` when the name's verb is a
 * destructive one (`*.delete`, `*.unbind`, ...: the verb table is never wrong on that side); and, when it states
 * `effects`, it keeps every reference effect (same param, at least the same risk).
 *
 * @param ref the reference row of the same method, when there is one
 */
export function checkRiskFloor(src: YamlSource, ptr: string, m: MethodEntry, ref: MethodEntry | undefined): Finding[] {
  const out: Finding[] = [];
  if (ref && ref.risk_source !== 'heuristic' && riskBelow(m.risk, ref.risk)) {
    out.push(
      errorAt(
        src,
        `${ptr}/risk`,
        `risk ${m.risk} of ${m.name} is below the reference's reviewed risk ${ref.risk}; a curated entry may raise a risk, never lower it`,
        'risk-downgrade',
      ),
    );
  } else {
    const verb = classifyByVerb(m.name);
    if (verb.risk === 'destructive' && riskBelow(m.risk, 'destructive')) {
      out.push(
        errorAt(
          src,
          `${ptr}/risk`,
          `risk ${m.risk} of ${m.name} is below destructive, the risk of its verb "${verb.verb}"`,
          'risk-downgrade',
        ),
      );
    }
  }
  if (ref?.effects?.length && m.effects !== undefined) {
    for (const re of ref.effects) {
      const kept = m.effects.some(
        (e) => e.param.toLowerCase() === re.param.toLowerCase() && !riskBelow(e.risk, re.risk),
      );
      if (!kept) {
        out.push(
          errorAt(
            src,
            `${ptr}/effects`,
            `effects of ${m.name} drop the reference's ${re.risk} effect of param "${re.param}" (${re.summary.en})`,
            'effects-downgrade',
          ),
        );
      }
    }
  }
  return out;
}
