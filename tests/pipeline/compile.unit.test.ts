/**
 * The compile step over real YAML files and the real catalog: batch groups (packed reads, fused pairs, fan-outs),
 * confirmations (recipes expanded), the cost that `check` prints, and a run that follows the compiled groups.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CatalogView, defaultCatalog } from '../../src/pipeline/catalog.js';
import { checkFiles } from '../../src/pipeline/check/files.js';
import { chunked, compile } from '../../src/pipeline/compile/index.js';
import { estimateCost } from '../../src/pipeline/cost.js';
import { loadPipelineFile } from '../../src/pipeline/load.js';
import { runPipeline } from '../../src/pipeline/run/index.js';
import { InMemoryClient } from './inMemoryClient.js';

const root = join(import.meta.dirname, '..', '..');
const fixture = (name: string) => join(root, 'tests', 'fixtures', 'pipelines', name);
const example = (name: string) => join(root, 'pipelines', name);

let catalog: CatalogView;
beforeAll(async () => {
  catalog = await defaultCatalog();
});

describe('compile', () => {
  it('packs independent single reads, fuses the $result pair and lists the confirmations', async () => {
    const program = compile(await loadPipelineFile(fixture('compile-program.yaml')), catalog);
    expect(program.batchGroups.map((g) => [g.kind, g.steps])).toEqual([
      ['reads', ['stages', 'latest', 'deal']],
      ['fused', ['deals', 'notes']],
    ]);
    expect(program.fused).toEqual([{ first: 'deals', second: 'notes', refs: { '/fields/ENTITY_ID': [] } }]);
    expect(program.readGroupOf('latest')?.steps).toEqual(['stages', 'latest', 'deal']);
    expect(program.fusedFrom('deals')?.second).toBe('notes');
    expect(program.steps.map((s) => [s.id, s.kind])).toEqual([
      ['stages', 'read'],
      ['latest', 'read'],
      ['deal', 'read'],
      ['deals', 'method'],
      ['notes', 'method'],
      ['purge', 'method'],
    ]);
    expect(program.confirmations.map((c) => [c.step, c.risk, c.flags, c.person])).toEqual([
      ['deals', 'write', ['confirm-write'], false],
      ['notes', 'write', ['confirm-write'], false],
      ['purge', 'destructive', ['confirm-write', 'confirm-destructive'], true],
    ]);
  });

  it('without batching: no groups, nothing fused, one command per request', async () => {
    const program = compile(await loadPipelineFile(fixture('compile-program.yaml')), catalog, { batching: false });
    expect(program.batchGroups).toEqual([]);
    expect(program.fused).toEqual([]);
    expect(new Set(program.steps.map((s) => s.chunk))).toEqual(new Set([1]));
    expect(program.cost.requests).toBe(program.cost.calls);
  });

  it('stale-deals: an all-rows read and two fan-outs in chunks of 50', async () => {
    const program = compile(await loadPipelineFile(example('stale-deals.yaml')), catalog);
    expect(program.step('deals')?.kind).toBe('readAll');
    expect(program.batchGroups.map((g) => [g.kind, g.steps, g.perRequest])).toEqual([
      ['fanOut', ['tasks'], 50],
      ['fanOut', ['comments'], 50],
    ]);
    expect(program.fused).toEqual([]); // comments needs tasks but reads none of its results
  });

  it('expands recipes: the sub-program and the confirmations of its steps', async () => {
    const program = compile(await loadPipelineFile(fixture('use-recipe.yaml')), catalog);
    const follow = program.step('follow')!;
    expect(follow.kind).toBe('subPipeline');
    expect(follow.sub?.steps.map((s) => s.id)).toEqual(['deal', 'task', 'link']);
    expect(program.confirmations.map((c) => c.step)).toEqual(['follow.task', 'follow.link', 'mark']);
  });

  it('the cost check prints is the cost of the compiled program', async () => {
    for (const file of [fixture('compile-program.yaml'), example('stale-deals.yaml'), example('lead-intake.yaml')]) {
      const p = await loadPipelineFile(file);
      const checked = await checkFiles([file], { catalog, items: 40 });
      expect(checked.errors).toBe(0);
      const program = compile(p, catalog, { defaultItems: 40 });
      expect(checked.files[0]!.cost).toEqual(program.cost);
      expect(estimateCost(p, catalog, { defaultItems: 40 })).toEqual(program.cost);
    }
  });

  it('one batch splitter: chunks of at most 50', () => {
    expect(chunked(Array.from({ length: 120 }, (_, i) => i)).map((c) => c.length)).toEqual([50, 50, 20]);
    expect(chunked([1, 2, 3], 1)).toEqual([[1], [2], [3]]);
    expect(chunked([])).toEqual([]);
  });
});

class Portal extends InMemoryClient {
  batches: string[][] = [];
  nextId = 100;
  override async batch(cmds: Parameters<InMemoryClient['batch']>[0]) {
    this.batches.push(Object.values(cmds).map((c) => c.method));
    return super.batch(cmds);
  }
  exec(method: string): unknown {
    if (method === 'crm.status.list') return [{ STATUS_ID: 'NEW' }];
    if (method === 'crm.deal.list') return [{ ID: '7', TITLE: 'x' }];
    if (method === 'crm.deal.get') return { ID: '7', TITLE: 'x' };
    if (method === 'crm.deal.add' || method === 'crm.timeline.comment.add') return this.nextId++;
    if (method === 'crm.deal.delete') return true;
    throw Object.assign(new Error(`no ${method}`), { code: 'ERROR_METHOD_NOT_FOUND' });
  }
}

describe('a run follows the compiled program', () => {
  it('sends the packed reads in one batch and the fused pairs together', async () => {
    const p = await loadPipelineFile(fixture('compile-program.yaml'));
    const program = compile(p, catalog);
    const c = new Portal();
    const r = await runPipeline(p, {
      client: c,
      catalog,
      program,
      journal: false,
      mode: 'full',
      confirmWrite: true,
      confirmDestructive: true,
    });
    expect(r.status).toBe('completed');
    expect(c.batches).toEqual([
      ['crm.status.list', 'crm.deal.list', 'crm.deal.get'],
      [
        'crm.deal.add',
        'crm.timeline.comment.add',
        'crm.deal.add',
        'crm.timeline.comment.add',
        'crm.deal.add',
        'crm.timeline.comment.add',
      ],
    ]);
    expect(c.requests).toBe(3); // + the single delete
  });

  it('refuses before any request when a confirmation of the program is missing', async () => {
    const p = await loadPipelineFile(fixture('compile-program.yaml'));
    const c = new Portal();
    const r = await runPipeline(p, { client: c, catalog, journal: false, mode: 'full', confirmWrite: true });
    expect(r.status).toBe('refused');
    expect(r.refusals.map((x) => x.step)).toEqual(['purge']);
    expect(c.batches.flat()).not.toContain('crm.deal.add');
  });
});
