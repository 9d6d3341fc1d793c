import type { MethodEffect, MethodParam } from '../generated/catalog-pack.js';
import type { CatalogMethod } from './model.js';

function paramLines(params: MethodParam[], indent: string, out: string[]): void {
  const w = Math.max(8, ...params.map((p) => p.name.length));
  for (const p of params) {
    const req = p.required === true ? 'required' : p.required === false ? 'optional' : 'required?';
    const type = p.doc_type ? `${p.type} (${p.doc_type})` : p.items ? `${p.type}<${p.items}>` : p.type;
    const values = p.values ? `  one of ${p.values.join('|')}` : '';
    out.push(
      `${indent}${p.name.padEnd(w)}  ${type.padEnd(22)} ${req}${p.dynamic ? ', more keys allowed' : ''}${values}`,
    );
    if (p.fields?.length) paramLines(p.fields, `${indent}  `, out);
  }
}

function effectLines(effects: MethodEffect[], out: string[]): void {
  out.push('  effects (risk of a call by its params):');
  for (const e of effects) {
    const cond = e.when ? ` = ${e.when.join('|')}` : e.unless ? ` ≠ ${e.unless.join(', ')}` : ' sent';
    const dflt = e.default !== undefined ? `default ${e.default}` : 'not sent: no effect';
    out.push(`    ${e.param}${cond} (${dflt}) → ${e.risk}`, `      ${e.summary.en}`, `      ${e.summary.ru}`);
  }
}

/** Human rendering of one catalog method for `b24flow catalog show`. */
export function renderMethod(m: CatalogMethod): string {
  const out: string[] = [];
  const how = m.curated ? ', curated' : m.risk_source === 'curated' ? ', reviewed risk' : ', heuristic risk';
  out.push(`${m.name}  (${m.curated ? `pack ${m.pack}` : 'reference'}${how})`);
  if (m.summary) out.push(`  ${m.summary.en}`, `  ${m.summary.ru}`);
  const flags = [
    `scope ${m.scope}`,
    `risk ${m.risk}${m.risk_from_commands ? ' (worst of its commands)' : ''}`,
    `auth ${m.auth ?? 'any'}`,
    m.http ?? 'POST',
    m.batchable === false ? 'not batchable' : 'batchable',
    m.positional ? 'positional params' : '',
    m.rest_v3 ? 'REST 3.0' : '',
    m.deprecated ? `deprecated${m.successor ? ` → ${m.successor}` : ''}` : '',
  ].filter(Boolean);
  out.push(`  ${flags.join(' · ')}`);
  if (m.effects?.length) effectLines(m.effects, out);
  if (m.risk_fields?.length) out.push(`  risk fields: ${m.risk_fields.join(', ')}`);
  if (m.list) {
    const l = m.list;
    out.push(
      `  list: rows in ${l.wrapper ? `result.${l.wrapper}` : 'result'}, id ${l.id_field ?? '?'}, start=-1 ${l.start_minus_one ? 'yes' : 'no'}` +
        (l.keyset !== undefined ? `, keyset ${l.keyset ? 'yes' : 'no'}` : ''),
    );
  }
  if (m.done) out.push(`  done: ${m.done.en.other.replace('{n}', '2')} / ${m.done.ru.few.replace('{n}', '2')}`);
  if (m.params?.length) {
    out.push('  params:');
    paramLines(m.params, '    ', out);
  } else out.push('  params: none');
  if (m.notes) out.push(`  note: ${m.notes}`);
  if (m.doc) out.push(`  doc: ${m.doc}`);
  return out.join('\n');
}
