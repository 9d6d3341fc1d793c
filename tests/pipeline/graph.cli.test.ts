/**
 * `b24flow graph` as a real process: a Mermaid flowchart of the compiled program (every step a node with an
 * alphanumeric id and a quoted label, batch groups as subgraphs, dependencies as edges) and the program as JSON.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function graph(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/b24flow.js', 'graph', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, BITRIX_WEBHOOK_URL: '', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const NODE = /^\s*([A-Za-z0-9]+)\["((?:[^"])*)"\]$/;
const SUBGRAPH = /^\s*subgraph ([A-Za-z0-9]+)\["([^"]*)"\]$/;
const EDGE = /^\s*([A-Za-z0-9]+) (-->|-\.->)\|([^|"]+)\| ([A-Za-z0-9]+)$/;
const CLASSDEF = /^\s*classDef [a-z]+ [a-z-]+:[^ ].*$/;
const CLASS = /^\s*class [A-Za-z0-9]+(,[A-Za-z0-9]+)* [a-z]+$/;

/** Every line is one Mermaid flowchart statement; subgraphs balance; edges connect declared ids. */
function parseMermaid(text: string) {
  const lines = text.trimEnd().split('\n');
  expect(lines[0]).toBe('flowchart TD');
  const nodes = new Map<string, string>();
  const subgraphs = new Map<string, string>();
  const edges: { from: string; to: string; label: string }[] = [];
  let depth = 0;
  for (const line of lines.slice(1)) {
    if (/^\s*%%/.test(line)) continue;
    const sub = SUBGRAPH.exec(line);
    const node = NODE.exec(line);
    const edge = EDGE.exec(line);
    if (sub) {
      subgraphs.set(sub[1]!, sub[2]!);
      depth++;
    } else if (/^\s*end$/.test(line)) {
      depth--;
      expect(depth).toBeGreaterThanOrEqual(0);
    } else if (node) nodes.set(node[1]!, node[2]!);
    else if (edge) edges.push({ from: edge[1]!, to: edge[4]!, label: edge[3]! });
    else if (!CLASSDEF.test(line) && !CLASS.test(line)) throw new Error(`not a Mermaid statement: ${line}`);
  }
  expect(depth).toBe(0);
  for (const e of edges) {
    expect(nodes.has(e.from) || subgraphs.has(e.from)).toBe(true);
    expect(nodes.has(e.to) || subgraphs.has(e.to)).toBe(true);
  }
  return { nodes, subgraphs, edges };
}

describe('b24flow graph (real process)', () => {
  it('draws stale-deals as a Mermaid flowchart: every step, its batch groups, its dependencies', () => {
    const r = graph('pipelines/stale-deals.yaml');
    expect(r.code).toBe(0);
    const { nodes, subgraphs, edges } = parseMermaid(r.out);
    const labels = [...nodes.values()];
    for (const [id, method, risk] of [
      ['deals', 'crm.item.list', 'read'],
      ['tasks', 'tasks.task.add', 'write'],
      ['comments', 'crm.timeline.comment.add', 'write'],
    ])
      expect(labels.some((l) => l.startsWith(`${id}<br/>${method} · ${risk}`))).toBe(true);
    expect(nodes.size).toBe(3);
    // the two fan-outs are batch groups
    expect([...subgraphs.values()].filter((t) => t.startsWith('batch:'))).toHaveLength(2);
    const idOf = (step: string) => [...nodes].find(([, l]) => l.startsWith(`${step}<br/>`))![0];
    expect(edges).toContainEqual({ from: idOf('deals'), to: idOf('tasks'), label: 'foreach' });
    expect(edges).toContainEqual({ from: idOf('tasks'), to: idOf('comments'), label: 'needs' });
    expect(r.out).toMatch(/^\s*class .* write$/m);
  });

  it('prints the compiled program as JSON', () => {
    const r = graph('pipelines/stale-deals.yaml', '--format', 'json');
    expect(r.code).toBe(0);
    const p = JSON.parse(r.out);
    expect(p.pipeline.name).toBe('stale-deals');
    expect(p.steps.map((s: { id: string }) => s.id)).toEqual(['deals', 'tasks', 'comments']);
    expect(p.batchGroups.map((g: { steps: string[] }) => g.steps)).toEqual([['tasks'], ['comments']]);
    expect(p.confirmations.map((c: { step: string }) => c.step)).toEqual(['tasks', 'comments']);
    expect(p.cost.calls).toBeGreaterThan(0);
  });

  it('draws fused pairs, packed reads, destructive steps and recipes', () => {
    const fused = parseMermaid(graph('tests/fixtures/pipelines/compile-program.yaml').out);
    expect([...fused.subgraphs.values()]).toEqual([
      'batch: 3 reads in one request',
      'batch: fused pairs, 25 pairs per request via $result',
    ]);
    const recipe = parseMermaid(graph('tests/fixtures/pipelines/use-recipe.yaml').out);
    expect([...recipe.subgraphs.values()]).toEqual(['follow · use: deal-stage-task']);
    expect(recipe.nodes.size).toBe(4);
  });

  it('refuses an unknown format', () => {
    const r = graph('pipelines/stale-deals.yaml', '--format', 'dot');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--format must be mermaid or json');
  });
});
