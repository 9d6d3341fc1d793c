import type { ErrorObject } from 'ajv';
import type { Finding } from './failures.js';
import { pointerToPath, type YamlSource } from './yamlSource.js';

/**
 * Turns ajv errors into findings at the YAML source position of the offending field.
 * `additionalProperties` errors point at the unknown key itself; `required` errors at the parent object
 * and name the missing property in `field`.
 */
export function ajvErrorsToFindings(errors: ErrorObject[] | null | undefined, src: YamlSource): Finding[] {
  if (!errors) return [];
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const e of errors) {
    // anyOf/oneOf produce a summary error plus the branch errors; keep the specific ones.
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') continue;
    let path = pointerToPath(e.instancePath);
    let message = e.message ?? 'invalid';
    let pos = src.locate(path);
    if (e.keyword === 'additionalProperties') {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      path = [...path, extra];
      pos = src.locateKey(path);
      message = `unknown property "${extra}"`;
    } else if (e.keyword === 'required') {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      message = `missing required property "${missing}"`;
      path = [...path, missing];
    } else if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      message = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    const field = path.length ? `/${path.join('/')}` : '';
    const key = `${pos.line}:${pos.col}:${field}:${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ file: src.file, line: pos.line, col: pos.col, field, message, rule: 'schema', severity: 'error' });
  }
  return out;
}
