/**
 * A compiled program for people and tools: plain JSON (`b24flow graph --format json`) and a Mermaid flowchart
 * (`b24flow graph`): one node per step (id, method, risk), edges for data dependencies, subgraphs for batch groups
 * and for the steps of recipes and sub-pipelines.
 */
import type { CostEstimate } from '../cost.js';
import type { BatchGroup, CompiledStep, Program } from './program.js';

/** A step in {@link ProgramJson}. */
export interface StepJson {
  id: string;
  kind: CompiledStep['kind'];
  method?: string;
  risk?: 'read' | 'write' | 'destructive';
  /** Dependencies with why: `needs`, `foreach` (the list it fans out over) or `reference` (`${{ steps.X }}`). */
  deps: { step: string; via: ('needs' | 'foreach' | 'reference')[] }[];
  foreach?: string;
  all?: boolean;
  onError?: string;
  handler?: boolean;
  /** Commands per request for its calls. */
  chunk: number;
  use?: string;
  pipeline?: string;
  /** The compiled recipe or sub-pipeline. */
  sub?: ProgramJson;
}

/** The JSON form of a program. */
export interface ProgramJson {
  pipeline: { name: string; file: string; hash: string };
  batching: boolean;
  order: string[];
  steps: StepJson[];
  batchGroups: BatchGroup[];
  fused: Program['fused'];
  confirmations: { step: string; method: string; risk: 'write' | 'destructive'; flags: string[]; person: boolean }[];
  cost: CostEstimate;
}

/** Why `cs` depends on `dep`. */
function depVia(p: Program, cs: CompiledStep, dep: string): StepJson['deps'][number]['via'] {
  const via: StepJson['deps'][number]['via'] = [];
  if (cs.step.needs?.includes(dep)) via.push('needs');
  const refs = (p.graph.refs.get(cs.id) ?? []).filter((r) => r.id === dep);
  if (refs.some((r) => r.path[2] === 'foreach')) via.push('foreach');
  if (refs.some((r) => r.path[2] !== 'foreach')) via.push('reference');
  return via;
}

/** The program as plain JSON data (no functions, no catalog). */
export function programJson(p: Program): ProgramJson {
  return {
    pipeline: { name: p.pipeline.pipeline.name, file: p.pipeline.file, hash: p.pipeline.hash },
    batching: p.batching,
    order: p.order,
    steps: p.steps.map((cs) => {
      const s = cs.step;
      return {
        id: cs.id,
        kind: cs.kind,
        ...(cs.method ? { method: cs.method.name, risk: cs.method.risk } : s.method ? { method: s.method } : {}),
        deps: cs.deps.map((d) => ({ step: d, via: depVia(p, cs, d) })),
        ...(s.foreach ? { foreach: s.foreach } : {}),
        ...(s.all ? { all: true } : {}),
        ...(s.on_error ? { onError: s.on_error } : {}),
        ...(cs.handler ? { handler: true } : {}),
        chunk: cs.chunk,
        ...(s.use ? { use: s.use } : {}),
        ...(s.pipeline ? { pipeline: s.pipeline } : {}),
        ...(cs.sub ? { sub: programJson(cs.sub) } : {}),
      };
    }),
    batchGroups: p.batchGroups,
    fused: p.fused,
    confirmations: p.confirmations.map((c) => ({
      step: c.step,
      method: c.method.name,
      risk: c.risk,
      flags: c.flags,
      person: c.person,
    })),
    cost: p.cost,
  };
}

/** A quoted Mermaid label of one or more lines: quotes and markup characters as entity codes (`#34;`). */
function label(...lines: string[]): string {
  const esc = (t: string) => t.replace(/[\r\n]+/g, ' ').replace(/[&"<>#]/g, (c) => `#${c.charCodeAt(0)};`);
  return `"${lines.map(esc).join('<br/>')}"`;
}

/**
 * The program as a Mermaid `flowchart TD`. Node ids are `s<index>` (nested steps `s<index>x<index>…`), so any step
 * id is safe; labels are quoted. Reads, writes and destructive steps get their own `classDef` style.
 */
export function programMermaid(p: Program): string {
  const lines = ['flowchart TD', `  %% ${p.pipeline.pipeline.name.replace(/[\r\n]/g, ' ')}: compiled program`];
  const edges: string[] = [];
  const classes: Record<'read' | 'write' | 'destructive' | 'nested', string[]> = {
    read: [],
    write: [],
    destructive: [],
    nested: [],
  };
  let groupNo = 0;
  const render = (prog: Program, prefix: string, indent: string) => {
    const nodeOf = new Map(prog.steps.map((cs, i) => [cs.id, `${prefix}${i}`] as const));
    const inGroup = new Map<string, BatchGroup>();
    for (const g of prog.batchGroups) for (const id of g.steps) inGroup.set(id, g);
    const node = (cs: CompiledStep, ind: string) => {
      const id = nodeOf.get(cs.id)!;
      const s = cs.step;
      if (cs.sub || s.use || s.pipeline) {
        const what = s.use ? `use: ${s.use}` : `pipeline: ${s.pipeline}`;
        if (!cs.sub) {
          lines.push(`${ind}${id}[${label(cs.id, what)}]`);
          classes.nested.push(id);
          return;
        }
        lines.push(`${ind}subgraph ${id}[${label(`${cs.id} · ${what}`)}]`);
        render(cs.sub, `${id}x`, `${ind}  `);
        lines.push(`${ind}end`);
        return;
      }
      const risk = cs.method?.risk;
      const parts = [cs.id, `${cs.method?.name ?? s.method ?? '?'} · ${risk ?? 'unknown method'}`];
      if (s.foreach) parts.push(`foreach ${s.foreach.replace(/^\$\{\{\s*|\s*\}\}$/g, '')}`);
      if (s.all) parts.push('all rows');
      if (cs.handler) parts.push('on_error handler');
      lines.push(`${ind}${id}[${label(...parts)}]`);
      if (risk) classes[risk].push(id);
    };
    const done = new Set<string>();
    for (const cs of prog.steps) {
      if (done.has(cs.id)) continue;
      const g = inGroup.get(cs.id);
      if (!g) {
        node(cs, indent);
        continue;
      }
      const title =
        g.kind === 'reads'
          ? `batch: ${g.steps.length} reads in one request`
          : g.kind === 'fused'
            ? `batch: fused pairs, ${g.perRequest / 2} pairs per request via $result`
            : `batch: foreach calls, ≤ ${g.perRequest} per request`;
      lines.push(`${indent}subgraph g${++groupNo}[${label(title)}]`);
      for (const id of g.steps) {
        node(prog.step(id)!, `${indent}  `);
        done.add(id);
      }
      lines.push(`${indent}end`);
    }
    for (const cs of prog.steps) {
      for (const d of cs.deps) {
        const via = depVia(prog, cs, d);
        edges.push(`  ${nodeOf.get(d)} -->|${via.join(', ') || 'after'}| ${nodeOf.get(cs.id)}`);
      }
      const onError = cs.step.on_error;
      if (onError && nodeOf.has(onError)) edges.push(`  ${nodeOf.get(cs.id)} -.->|on_error| ${nodeOf.get(onError)}`);
    }
  };
  render(p, 's', '  ');
  lines.push(...edges);
  lines.push(
    '  classDef read fill:#eef6ff,stroke:#3b7dd8',
    '  classDef write fill:#fff5e0,stroke:#d98e04,stroke-width:2px',
    '  classDef destructive fill:#ffe3e3,stroke:#c92a2a,stroke-width:3px',
    '  classDef nested fill:#f3f0ff,stroke:#7048e8,stroke-dasharray:4 2',
  );
  for (const [cls, ids] of Object.entries(classes)) if (ids.length) lines.push(`  class ${ids.join(',')} ${cls}`);
  return `${lines.join('\n')}\n`;
}
