/**
 * Conformance case generator: walks a checkout of the REST docs (repository bitrix24/b24restdocs, folder
 * `api-reference/` and the `batch` page under `settings/`), keeps the method pages of methods the sandbox emulates (its method registry, v1 and REST 3.0
 * tables) and writes one case per documented cURL request example (webhook and OAuth tabs count separately):
 * `{id, method, v3, family, docPage, oauth, params, expect, alternatives}` where `expect` is the shape of the page's
 * first success answer (keys and JSON types, see docShapes.ts) and `alternatives` those of its other answers (a
 * page may document variants, e.g. one option vs all options), never the docs' values or text.
 *
 * Usage: `npm run conformance:extract -- [docsDir]` (or B24_DOCS_DIR); writes tests/fixtures/conformance/cases.json.
 * A dev tool: CI replays the committed fixture and never needs the docs.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import JSON5 from 'json5';
import { buildRegistry } from '../../src/sandbox/dispatch.js';
import { Portal } from '../../src/sandbox/portal.js';
import { type ConformanceCase, type Shape, shapeOf } from './docShapes.js';

/** Family of a method: everything before the verb; one-word methods are their own family. */
export function familyOf(method: string): string {
  const parts = method.split('.');
  return parts.length > 1 ? parts.slice(0, -1).join('.') : method;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.md') && name !== 'index.md') out.push(p);
  }
  return out;
}

/** The method a page documents: the last dotted identifier of its H1 (rest-protocol.md §11.1). */
function methodOf(text: string): string | undefined {
  const h1 = /^# (.+)$/m.exec(text)?.[1];
  if (!h1) return undefined;
  const m = /([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+)`?\s*$/.exec(h1.trim());
  if (m) return m[1];
  const one = /`([a-z][\w.]*)`\s*$/.exec(h1.trim());
  return one?.[1];
}

function section(text: string, heading: RegExp): string {
  const m = heading.exec(text);
  if (!m) return '';
  const rest = text.slice(m.index + m[0].length);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

function parseLoose(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    try {
      return JSON5.parse(s);
    } catch {
      return undefined;
    }
  }
}

/** cURL examples of a page: the body of `-d '…'` (or the query string) and whether it authenticates by OAuth. */
function curlExamples(examples: string): { params: unknown; oauth: boolean; url: string }[] {
  const out: { params: unknown; oauth: boolean; url: string }[] = [];
  const blocks = examples.split(/```(?:bash|curl|shell|sh)?\s*\n/).slice(1);
  for (const raw of blocks) {
    // shell interpolations such as "'"$(date --iso-8601=seconds)"'" become a fixed ISO date
    const block = raw
      .slice(0, raw.indexOf('```') < 0 ? raw.length : raw.indexOf('```'))
      .replace(/'"\$\([^)]*\)"'/g, '2026-01-01T10:00:00+00:00');
    // a shell example starts with `curl` (or its flags); PHP/Go tabs merely mention curl_init
    if (!/^\s*(curl\s|-X\s+(POST|GET))/.test(block)) continue;
    // the request URL is the last one (a body may carry others, e.g. event.bind's handler)
    const urls = [...block.matchAll(/(https?:\/\/[^\s'"]+)/g)].map((m) => m[1]!);
    const url = urls.filter((u) => u.includes('/rest/')).pop() ?? urls.pop() ?? '';
    // the body ends at the quote before a line continuation, the URL or the next flag (one-line examples)
    const body = /(?:-d|--data(?:-raw)?)\s+'([\s\S]*?)'(?=\s*(?:\\?\s*$|https?:\/\/|-))/m.exec(block)?.[1];
    let params: unknown = {};
    if (body !== undefined) params = parseLoose(body);
    else {
      const q = url.indexOf('?');
      if (q >= 0) params = Object.fromEntries(new URLSearchParams(url.slice(q + 1)));
    }
    if (params === undefined) continue;
    const oauth = !!params && typeof params === 'object' && !Array.isArray(params) && 'auth' in params;
    if (oauth) delete (params as Record<string, unknown>).auth;
    out.push({ params, oauth, url });
  }
  return out;
}

/** JSON response examples of the success section (`## Response Handling`). */
function responseExamples(text: string): Record<string, unknown>[] {
  const sec = section(text, /^## Response Handling\s*$/m) || section(text, /^### Response Handling\s*$/m);
  const out: Record<string, unknown>[] = [];
  for (const m of sec.matchAll(/```json\s*\n([\s\S]*?)```/g)) {
    const v = parseLoose(m[1]!);
    if (v && typeof v === 'object' && !Array.isArray(v) && 'result' in v) out.push(v as Record<string, unknown>);
  }
  return out;
}

/** The envelope shape of a documented answer: `result`, `time` and the list keys where the docs show them. */
function envelopeShape(res: Record<string, unknown>, batch = false): Record<string, Shape> {
  const e: Record<string, Shape> = {};
  // a few pages (tasks.task.start/pause/…) nest the envelope's `time` inside `result` by mistake: lift it out
  const r = res.result as Record<string, any> | null;
  if (r && typeof r === 'object' && !('time' in res) && r.time && typeof r.time === 'object' && 'duration' in r.time) {
    const { time, ...rest } = r;
    res = { ...res, result: rest, time };
  }
  for (const k of ['result', 'total', 'next', 'time']) if (k in res) e[k] = shapeOf(res[k]);
  // batch sections are keyed by the caller's command ids (data, not keys): keep their first entry under `*`
  const b = e.result;
  if (batch && b && typeof b === 'object' && !Array.isArray(b)) {
    for (const [k, v] of Object.entries(b))
      if (v && typeof v === 'object' && !Array.isArray(v) && !('*' in v)) {
        const first = Object.values(v)[0];
        b[k] = first === undefined ? {} : { '*': first };
      }
  }
  return e;
}

/** Emulated methods of the sandbox: lower-case names of the v1 and REST 3.0 tables. */
function emulated(): { v1: Set<string>; v3: Set<string> } {
  const portal = new Portal({
    seed: 1,
    deals: 0,
    plan: 'unlimited',
    operatingLimit: 480,
    clockFactor: 1,
    log: () => {},
    populate: () => {},
  } as ConstructorParameters<typeof Portal>[0]);
  const r = buildRegistry(portal);
  return { v1: new Set([...r.v1.keys(), 'batch']), v3: new Set(r.v3.keys()) };
}

/** Builds every case from a docs checkout. */
export function extract(docsDir: string): ConformanceCase[] {
  const table = emulated();
  const cases: ConformanceCase[] = [];
  const seen = new Map<string, number>();
  // batch is documented under settings/, not api-reference/
  const pages = [
    ...walk(join(docsDir, 'api-reference')).sort(),
    join(docsDir, 'settings/how-to-call-rest-api/batch.md'),
  ];
  for (const file of pages) {
    const text = readFileSync(file, 'utf8');
    const examplesText = section(text, /^## Code Examples\s*$/m) || text;
    const examples = curlExamples(examplesText);
    // a few pages (profile, scope, methods, crm.item.fields) have no dotted name in H1: take the cURL URL's
    const method = (methodOf(text) ?? examples[0]?.url.split(/[/?]/).filter(Boolean).slice(-1)[0])?.toLowerCase();
    if (!method) continue;
    const v3 = /belongs to REST 3\.0/.test(text) || file.endsWith('-rest-v3.md');
    if (!(v3 ? table.v3 : table.v1).has(method)) continue;
    const responses = responseExamples(text);
    if (!responses.length) continue;
    const shapes = responses.map((r) => envelopeShape(r, method === 'batch'));
    for (const ex of examples) {
      if (
        ex.url &&
        !ex.url
          .toLowerCase()
          .split(/[?]/)[0]!
          .endsWith('/' + method)
      )
        continue;
      const n = (seen.get(method + v3) ?? 0) + 1;
      seen.set(method + v3, n);
      cases.push({
        id: `${v3 ? 'v3:' : ''}${method}#${n}`,
        method,
        v3,
        family: familyOf(method),
        docPage: relative(docsDir, file),
        oauth: ex.oauth,
        params: ex.params,
        expect: shapes[0]!,
        ...(shapes.length > 1 ? { alternatives: shapes.slice(1) } : {}),
      });
    }
  }
  return cases;
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!);
if (isMain) {
  const dir = process.argv[2] ?? process.env.B24_DOCS_DIR;
  if (!dir) {
    process.stderr.write('usage: npm run conformance:extract -- <b24restdocs dir> (or B24_DOCS_DIR)\n');
    process.exit(2);
  }
  const cases = extract(dir);
  const out = new URL('../../tests/fixtures/conformance/cases.json', import.meta.url);
  writeFileSync(out, JSON.stringify({ source: 'bitrix24/b24restdocs', cases }, null, 1) + '\n');
  const fams = new Map<string, number>();
  for (const c of cases) fams.set(c.family, (fams.get(c.family) ?? 0) + 1);
  process.stdout.write(
    `${cases.length} cases, ${fams.size} families, ${new Set(cases.map((c) => c.method)).size} methods\n`,
  );
}
