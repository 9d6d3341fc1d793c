/**
 * Typed pipeline inputs: parsing `--input k=v`, applying defaults, validating types before a run.
 */
import type { Input } from '../generated/pipeline.js';
import { type Finding, InvalidInputError } from '../lib/failures.js';
import type { LoadedPipeline } from './load.js';

/** Returns an error text when `v` does not fit the input declaration, else undefined. */
export function inputTypeOk(def: Input, v: unknown): string | undefined {
  const t = def.type;
  const ok = (() => {
    switch (t) {
      case 'int':
      case 'integer':
        return typeof v === 'number' && Number.isInteger(v);
      case 'double':
      case 'number':
        return typeof v === 'number';
      case 'bool':
      case 'boolean':
        return typeof v === 'boolean';
      case 'list':
      case 'array':
        return Array.isArray(v);
      case 'map':
      case 'object':
        return !!v && typeof v === 'object' && !Array.isArray(v);
      case 'date':
        return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v);
      case 'datetime':
        return typeof v === 'string' && !Number.isNaN(Date.parse(v));
      default:
        return typeof v === 'string';
    }
  })();
  if (!ok) return `expected ${t}, got ${JSON.stringify(v)}`;
  if (def.enum && !def.enum.some((e) => JSON.stringify(e) === JSON.stringify(v)))
    return `must be one of ${def.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  return undefined;
}

/** Converts a command-line text to the declared input type (`--input days=14` → 14). */
export function coerceInput(def: Input | undefined, raw: string): unknown {
  const t = def?.type ?? 'string';
  if (['int', 'integer', 'double', 'number'].includes(t) && raw.trim() !== '' && !Number.isNaN(Number(raw)))
    return Number(raw);
  if (['bool', 'boolean'].includes(t) && /^(true|false|yes|no|y|n|1|0)$/i.test(raw))
    return /^(true|yes|y|1)$/i.test(raw);
  if (['list', 'array', 'map', 'object'].includes(t)) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw.split(',').map((s) => s.trim());
    }
  }
  return raw;
}

/** Parses repeated `k=v` flags. @throws InvalidInputError for a flag without `=` */
export function parseInputFlags(p: LoadedPipeline, flags: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of flags) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new InvalidInputError(`--input expects name=value, got "${f}"`);
    const k = f.slice(0, eq);
    out[k] = coerceInput(p.pipeline.inputs?.[k], f.slice(eq + 1));
  }
  return out;
}

/**
 * Applies defaults and validates given inputs against the declarations.
 * @returns the complete input map
 * @throws InvalidInputError naming each bad or missing input (positions point at its declaration)
 */
export function resolveInputs(p: LoadedPipeline, given: Record<string, unknown> = {}): Record<string, unknown> {
  const decl = p.pipeline.inputs ?? {};
  const out: Record<string, unknown> = {};
  const findings: Finding[] = [];
  const bad = (name: string, message: string) => {
    const pos = decl[name] ? p.locateKey(['inputs', name]) : { line: 1, col: 1 };
    findings.push({ file: p.file, ...pos, field: `/inputs/${name}`, message, rule: 'input', severity: 'error' });
  };
  for (const [k, v] of Object.entries(given)) {
    if (!(k in decl)) {
      // event/trigger payloads arrive as extra inputs; keep them but do not type them
      out[k] = v;
      continue;
    }
    const err = inputTypeOk(decl[k]!, v);
    if (err) bad(k, `input "${k}": ${err}`);
    out[k] = v;
  }
  for (const [k, d] of Object.entries(decl)) {
    if (k in out) continue;
    if (d.default !== undefined) out[k] = d.default;
    else if (d.required) bad(k, `input "${k}" is required`);
    else out[k] = null;
  }
  if (findings.length) throw new InvalidInputError(`${p.file}: invalid inputs`, findings);
  return out;
}
