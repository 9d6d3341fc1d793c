/**
 * Imports the documented method facts of `b24-spec` into the committed reference catalog.
 *
 *   npm run catalog:import -- ../shared/b24-spec
 *
 * Reads `<spec>/spec/index.json` and `<spec>/spec/methods/<method>.json` (MIT data derived from the Bitrix24 REST
 * docs) and writes `catalog/reference/<scope>.json`, one shard per scope, in the catalog-pack format with
 * `pack: reference`. Only facts are kept: names, scopes (tag fixes: `базовый` → basic, `sonet` → sonet_group,
 * `tasks` → task, none → basic), params with types and required flags, nested field tables, deprecation, list
 * shape from the documented response example, the doc page. No description sentences are copied.
 *
 * Risk: curated pack entries (catalog/packs/*.yaml) win (`risk_source: curated`), except that the importer never
 * writes a risk below the reviewed floor of the name (a `*.delete` stays destructive, a {@link REVIEWED_RISK} row
 * keeps its class), so a downgraded pack entry is caught by `catalog validate` (rule risk-downgrade) instead of
 * being copied into the reference. Methods in {@link REVIEWED_RISK} get that risk (`risk_source: curated`, the reason
 * in `notes`); every other method is classified by the verb rule table of src/catalog/risk.ts (`risk_source:
 * heuristic`).
 *
 * Effects: param-dependent effects (`effects`, see src/catalog/effects.ts) come from the curated entry, else from
 * {@link PARAM_EFFECTS}. When an effect names a param the spec does not list (the spec has no `clear` for
 * event.offline.get), the curated entry's declaration of that param is added.
 *
 * Finally rebuilds `catalog/index.json`, the compiled index `b24flow catalog show` reads. Nothing at run time reads
 * the spec folder.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { maxRisk } from '../src/catalog/effects.js';
import { classifyByVerb, type RiskClass } from '../src/catalog/risk.js';
import { readPackSources } from '../src/catalog/sources.js';
import { buildIndex, CATALOG_DIR } from '../src/catalog/store.js';
import type {
  ListSemantics,
  MethodEffect,
  MethodEntry,
  MethodParam,
  ParamType,
} from '../src/generated/catalog-pack.js';
import { writeFileAtomicSync } from '../src/lib/atomic.js';

interface SpecParam {
  name: string;
  type: string;
  base: string;
  required: boolean | 'unknown';
  ref?: string;
  dynamic?: { allowed?: boolean; ufAllowed?: boolean };
}
interface SpecMethod {
  method: string;
  scope: string | null;
  params?: SpecParam[];
  defs?: Record<string, { dynamic?: { allowed?: boolean; ufAllowed?: boolean }; fields?: SpecParam[] }>;
  resultExample?: unknown;
  deprecated?: boolean;
}
interface SpecIndexRow {
  method: string;
  scope: string | null;
  page: string;
  deprecated: boolean;
}

const specDir = resolve(process.argv[2] ?? '../shared/b24-spec');
const catalogDir = process.env.B24FLOW_CATALOG_DIR ?? CATALOG_DIR;
const indexFile = join(specDir, 'spec', 'index.json');
if (!existsSync(indexFile)) {
  console.error(`catalog:import: ${indexFile} not found (usage: npm run catalog:import -- <b24-spec dir>)`);
  process.exit(2);
}

/** Real scope codes for the spec's tags. */
const SCOPE_FIX: Record<string, string> = { базовый: 'basic', sonet: 'sonet_group', tasks: 'task', '': 'basic' };
/** Methods that need an OAuth application context (webhooks are refused). */
const APP_ONLY = [/^event\./, /^placement\./, /^app\./, /^userfieldtype\./, /^imconnector\./];
/** Known successors of deprecated families. */
const SUCCESSORS: Array<[RegExp, (m: string) => string | null]> = [
  [/^crm\.dealcategory\.stage\.list$/i, () => 'crm.status.list'],
  [/^crm\.(deal|lead|contact|company)\.(add|update|get|list|delete|fields)$/i, (m) => `crm.item.${m.split('.').pop()}`],
  [/^crm\.dealcategory\.(\w+)$/i, (m) => `crm.category.${m.split('.').pop()}`],
  [
    /^task\.item\.(add|update|delete|list|getdata)$/i,
    (m) => {
      const v = m.split('.').pop()!.toLowerCase();
      return `tasks.task.${v === 'getdata' ? 'get' : v}`;
    },
  ],
];
/**
 * Method families the docs also publish under REST 3.0 (api-reference/rest-v3/: /rest/api/ endpoint, typed errors,
 * Idempotency-Key). The spec data has no such flag; the list follows the docs' REST 3.0 section.
 */
const REST_V3: RegExp[] = [
  /^tasks\.task\.(add|get|update|delete|list)$/i,
  /^tasks\.task\.(result|access|chat\.message|field|file)\./i,
  /^main\.eventlog\./i,
  /^note\./i,
  /^mail\.(mailbox|message|recipient)\./i,
  /^humanresources\.(employee|node)\./i,
];
/**
 * Reference methods whose name reads like a read but which change the portal, whatever the params (reviewed by a
 * person from the doc page; catalog/README.md lists them). The verb table gets `*.read`/`*.show` right since they
 * left READ_VERBS; these rows stay explicit so that the reviewed class survives a change of the verb table.
 */
const REVIEWED_RISK: Record<string, { risk: RiskClass; notes: string }> = {
  'im.dialog.read': {
    risk: 'write',
    notes: 'Marks the messages of a chat as read (all unread ones without MESSAGE_ID).',
  },
  'im.notify.read': {
    risk: 'write',
    notes: 'Marks notifications as read (ACTION=Y, the default) or unread (ACTION=N).',
  },
  'im.notify.read.list': {
    risk: 'write',
    notes: 'Marks the listed notifications as read (ACTION=Y, the default) or unread; a "list" only by name.',
  },
  'imbot.v2.Chat.Message.read': { risk: 'write', notes: 'Marks the chat messages as read for the bot.' },
  'imconnector.send.status.reading': { risk: 'write', notes: 'Reports "read" statuses of open-line messages.' },
  'landing.landing.showblock': { risk: 'write', notes: 'Makes a hidden block of the page visible.' },
  'telephony.externalCall.show': { risk: 'write', notes: "Shows the call card on the user's screen." },
  'disk.file.getExternalLink': {
    risk: 'write',
    notes: 'Creates a public link to the file when the caller has none yet: the file becomes reachable from outside.',
  },
  'disk.folder.getExternalLink': {
    risk: 'write',
    notes:
      'Creates a public link to the folder when the caller has none yet: the folder becomes reachable from outside.',
  },
};

/**
 * Param-dependent effects of reference-only methods (curated pack entries state their own `effects`). Sources: the
 * doc page of each method (param tables); catalog/README.md lists them.
 */
const PARAM_EFFECTS: Record<string, MethodEffect[]> = {
  'im.v2.Event.get': [
    {
      param: 'offset',
      unless: [0],
      risk: 'destructive',
      summary: {
        en: 'acknowledges the events before the offset: they leave the queue',
        ru: 'подтверждает события до offset: они уходят из очереди',
      },
    },
  ],
  'imbot.v2.Event.get': [
    {
      param: 'offset',
      unless: [0],
      risk: 'destructive',
      summary: {
        en: "acknowledges the events before the offset: they leave the bot's queue",
        ru: 'подтверждает события до offset: они уходят из очереди бота',
      },
    },
  ],
};

const TYPES = new Set<ParamType>([
  'string',
  'integer',
  'number',
  'boolean',
  'object',
  'array',
  'date',
  'datetime',
  'file',
  'char',
  'any',
]);

function paramType(base: string): ParamType {
  return TYPES.has(base as ParamType) ? (base as ParamType) : 'any';
}

function convertParam(p: SpecParam, defs: SpecMethod['defs'], depth: number): MethodParam {
  const out: MethodParam = { name: p.name, type: paramType(p.base), required: p.required };
  if (p.type && p.type !== p.base) out.doc_type = p.type;
  if (p.base === 'array') {
    const m = /^(\w+)\[\]$/.exec(p.type);
    if (m && TYPES.has(m[1] as ParamType)) out.items = m[1] as ParamType;
  }
  const dyn = p.dynamic?.allowed || p.dynamic?.ufAllowed;
  if (p.ref && defs && depth < 3) {
    const def = defs[p.ref.replace('#/defs/', '')];
    if (def?.fields?.length) out.fields = def.fields.map((f) => convertParam(f, defs, depth + 1));
    if (def?.dynamic?.allowed || def?.dynamic?.ufAllowed) out.dynamic = true;
  } else if (dyn) out.dynamic = true;
  return out;
}

/** Derives list semantics from the documented response example. */
function listShape(name: string, example: unknown): ListSemantics | undefined {
  const action = name.split('.').pop()!.toLowerCase();
  if (!/^(list|getlist)$/.test(action)) return undefined;
  const result = (example as { result?: unknown } | undefined)?.result;
  let wrapper: string | null = null;
  let rows: unknown[] | undefined;
  if (Array.isArray(result)) rows = result;
  else if (result && typeof result === 'object') {
    const arrays = Object.entries(result).filter(([, v]) => Array.isArray(v));
    if (arrays.length === 1) {
      wrapper = arrays[0]![0];
      rows = arrays[0]![1] as unknown[];
    }
  }
  const first = rows?.[0];
  let idField: string | null = null;
  if (first && typeof first === 'object') idField = 'ID' in first ? 'ID' : 'id' in first ? 'id' : null;
  const legacyCrm = /^crm\./.test(name) && wrapper === null && idField === 'ID';
  return {
    wrapper,
    id_field: idField,
    start_minus_one: legacyCrm || name === 'crm.item.list',
    page_size: 50,
  };
}

const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { methods: SpecIndexRow[] };
const curated = new Map<string, MethodEntry>();
for (const src of readPackSources(catalogDir)) for (const m of src.data.methods) curated.set(m.name.toLowerCase(), m);
// Curated facts the reference repeats (risk class decided by a person, REST 3.0 availability).

const shards = new Map<string, MethodEntry[]>();
let heuristic = 0;
for (const row of index.methods) {
  const spec = JSON.parse(readFileSync(join(specDir, 'spec', 'methods', `${row.method}.json`), 'utf8')) as SpecMethod;
  const tag = row.scope ?? '';
  const scope = SCOPE_FIX[tag] ?? tag.toLowerCase();
  const cur = curated.get(row.method.toLowerCase());
  const verb = classifyByVerb(row.method);
  const reviewed = REVIEWED_RISK[row.method];
  // The floor a curated entry cannot lower: the reviewed class, or destructive for a destructive verb.
  const floor: RiskClass = reviewed?.risk ?? (verb.risk === 'destructive' ? 'destructive' : 'read');
  const entry: MethodEntry = {
    name: row.method,
    scope,
    risk: cur ? maxRisk(cur.risk, floor) : (reviewed?.risk ?? verb.risk),
    risk_source: cur || reviewed ? 'curated' : 'heuristic',
    auth: APP_ONLY.some((r) => r.test(row.method)) ? 'app' : 'any',
    http: 'POST',
  };
  if (!cur && !reviewed) heuristic++;
  const segs = row.method.split('.');
  if (segs.length > 1) entry.entity = segs[segs.length - 2]!.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  entry.params = (spec.params ?? []).map((p) => convertParam(p, spec.defs, 0));
  const effects = cur?.effects ?? PARAM_EFFECTS[row.method];
  if (effects?.length) {
    for (const e of effects) {
      const want = e.param.toLowerCase();
      if (entry.params.some((p) => p.name.toLowerCase() === want)) continue;
      const decl = cur?.params?.find((p) => p.name.toLowerCase() === want);
      if (!decl) throw new Error(`catalog:import: ${row.method}: effect names undeclared param "${e.param}"`);
      entry.params.push(decl);
    }
    entry.effects = effects;
  }
  if (/^task\.(commentitem|checklistitem|elapseditem|item|planner|ctaskitem)\./i.test(row.method))
    entry.positional = true;
  const list = listShape(row.method, spec.resultExample);
  if (list) entry.list = list;
  entry.batchable = true;
  entry.deprecated = Boolean(row.deprecated || spec.deprecated);
  if (entry.deprecated) {
    const succ = SUCCESSORS.find(([re]) => re.test(row.method));
    entry.successor = succ ? succ[1](row.method) : null;
  }
  entry.rest_v3 = REST_V3.some((r) => r.test(row.method));
  entry.doc = `https://apidocs.bitrix24.com${row.page}`;
  if (reviewed && !cur) entry.notes = reviewed.notes;
  const key = scope.replace(/\./g, '_');
  if (!shards.has(key)) shards.set(key, []);
  shards.get(key)!.push(entry);
}

const refDir = join(catalogDir, 'reference');
mkdirSync(refDir, { recursive: true });
for (const f of readdirSync(refDir)) if (f.endsWith('.json')) rmSync(join(refDir, f));
for (const [key, methods] of [...shards].sort(([a], [b]) => a.localeCompare(b))) {
  methods.sort((a, b) => a.name.localeCompare(b.name));
  const header = {
    pack: 'reference',
    title: { en: `Reference: ${methods[0]!.scope} scope`, ru: `Справочник: scope ${methods[0]!.scope}` },
    scopes: [methods[0]!.scope],
    reference: {
      scope: methods[0]!.scope,
      generated_by: 'npm run catalog:import',
      source: 'b24-spec (bitrix-tools/b24-rest-docs, _assets/simulator, commit 2ba82021)',
      license: 'facts derived from MIT-licensed data, copyright Bitrix',
    },
  };
  // One method per line: small diffs, and still plain JSON (which is also YAML).
  const head = JSON.stringify(header).slice(0, -1);
  const body = methods.map((m) => `    ${JSON.stringify(m)}`).join(',\n');
  writeFileAtomicSync(join(refDir, `${key}.json`), `${head},\n  "methods": [\n${body}\n  ]\n}\n`);
}
const total = [...shards.values()].reduce((n, s) => n + s.length, 0);
console.error(
  `catalog:import: ${total} methods in ${shards.size} reference shards (${heuristic} heuristic risk, ${total - heuristic} curated or reviewed)`,
);
const idx = buildIndex(catalogDir);
console.error(`catalog:import: wrote catalog/index.json (${idx.curated} curated, ${idx.reference} reference methods)`);
