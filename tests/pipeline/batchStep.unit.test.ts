/**
 * Structured batch commands (src/pipeline/batchStep.ts) and sub-pipeline path confinement (src/pipeline/expand.ts):
 * data stays data inside an encoded command; text commands are refused statically and at run time before a request;
 * a `pipeline:` path outside the calling pipeline's folder (absolute, `../`, a symlink out) is refused and never read.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeParams } from '../../src/bitrix/encode.js';
import { batchCommandIssues, encodeBatchParams } from '../../src/pipeline/batchStep.js';
import { checkPipeline } from '../../src/pipeline/check/index.js';
import { subPipelinePath } from '../../src/pipeline/expand.js';
import { loadPipelineFile, loadPipelineText } from '../../src/pipeline/load.js';
import { runPipeline } from '../../src/pipeline/run/index.js';
import { scanPending, testDir } from '../support/testRoot.js';
import { InMemoryClient } from './inMemoryClient.js';
import { testCatalog } from './testCatalog.js';

class Recorder extends InMemoryClient {
  calls: { method: string; params: any }[] = [];
  exec(method: string, params: any): unknown {
    this.calls.push({ method, params });
    if (method === 'batch') return { result: {} };
    if (method === 'crm.deal.get') return { ID: '5', TITLE: 'x&id=7&cmd[d]=crm.deal.delete?id=8' };
    return true;
  }
}

const evil = 'Order&id=1&cmd[x]=crm.deal.delete?id=2';
/** A whole-field expression `${{ body }}`. */
const ex = (body: string) => `\${{ ${body} }}`;

describe('structured batch commands', () => {
  it('encode each command with the client encoder: data cannot add a param or a command', () => {
    const enc = encodeBatchParams({
      halt: 1,
      cmd: { upd: { method: 'crm.deal.update', params: { id: 5, fields: { TITLE: evil, OPENED: true } } } },
    });
    expect(enc.halt).toBe(1);
    const cmd = (enc.cmd as Record<string, string>).upd!;
    expect(cmd.startsWith('crm.deal.update?')).toBe(true);
    expect(
      cmd
        .slice(cmd.indexOf('?') + 1)
        .split('&')
        .map((kv) => kv.split('=')[0]),
    ).toEqual(['id', 'fields[TITLE]', 'fields[OPENED]']);
    expect(decodeParams(cmd.slice(cmd.indexOf('?') + 1))).toEqual({ id: '5', fields: { TITLE: evil, OPENED: 'Y' } });
    // a list stays a list; a command without params is the bare method
    expect(encodeBatchParams({ cmd: [{ method: 'user.current' }] }).cmd).toEqual(['user.current']);
  });

  it('the encoder refuses text commands, data-chosen or nested methods', () => {
    expect(() => encodeBatchParams({ cmd: { a: 'crm.deal.update?id=1' } })).toThrow(/batch command "a" is text/);
    expect(() => encodeBatchParams({ cmd: 'crm.deal.update?id=1' })).toThrow(/cmd is text/);
    expect(() => encodeBatchParams({ cmd: { a: { method: 'crm.deal.delete?id=2' } } })).toThrow(/method name/);
    expect(() => encodeBatchParams({ cmd: { a: { method: 'batch' } } })).toThrow(/method name/);
    expect(() => encodeBatchParams({ cmd: { 'a&b': { method: 'user.current' } } })).toThrow(/letters, digits/);
  });

  it('static issues name the path of every bad command', () => {
    expect(batchCommandIssues({ a: { method: 'crm.deal.get', params: { id: ex('inputs.d') } } })).toEqual([]);
    expect(batchCommandIssues({ a: { method: 'crm.deal.get', params: ex('steps.p.result') } })).toEqual([]);
    const issues = (v: unknown) => batchCommandIssues(v).map((i) => `${i.path.join('/')}${i.key ? ' key' : ''}`);
    expect(issues({ $template: 'crm.deal.update?id={{ inputs.d }}' })).toEqual(['cmd']);
    expect(issues(ex('inputs.cmds'))).toEqual(['cmd']);
    expect(
      issues({
        a: 'crm.deal.get?id=1',
        b: { $template: 'x' },
        c: { method: ex('inputs.m') },
        d: { method: 'batch' },
        e: { method: 'crm.deal.get', params: { $template: 'id={{ inputs.d }}' } },
        f: { method: 'crm.deal.get', query: 'id=1' },
        g: {},
        'h i': { method: 'user.current' },
      }),
    ).toEqual([
      'cmd/a',
      'cmd/b',
      'cmd/c/method',
      'cmd/d/method',
      'cmd/e/params',
      'cmd/f/query key',
      'cmd/g',
      'cmd/h i key',
    ]);
    expect(issues({})).toEqual(['cmd']);
    expect(issues(Array.from({ length: 51 }, () => ({ method: 'user.current' })))).toEqual(['cmd']);
  });

  it('the run refuses a text batch in every mode before any request (defence behind check)', async () => {
    for (const cmd of ['"crm.deal.update?id=5&fields[TITLE]=x"', `"${ex('inputs.c')}"`]) {
      const p = loadPipelineText(
        `name: t\ninputs: { c: { type: string, default: "x" } }\nsteps:\n  - id: b\n    method: batch\n    params:\n      cmd: ${cmd}\n`,
        't.yaml',
      );
      for (const mode of ['shadow', 'full'] as const) {
        const c = new Recorder();
        const r = await runPipeline(p, {
          client: c,
          catalog: testCatalog,
          journal: false,
          mode,
          confirmWrite: true,
          confirmDestructive: true,
        });
        expect(r.status, `${cmd} ${mode}`).toBe('failed');
        expect(r.error).toMatch(/step "b": .*is text/);
        expect(c.calls).toEqual([]);
      }
    }
  });

  it('params that only turn out to be text at run time are refused at the client boundary, unsent', async () => {
    const p = loadPipelineText(
      `name: t
inputs: { p: { type: string, default: "id=1&cmd[x]=crm.deal.delete?id=2" } }
steps:
  - id: b
    method: batch
    params:
      cmd:
        upd: { method: crm.deal.update, params: "${ex('inputs.p')}" }
`,
      't.yaml',
    );
    const c = new Recorder();
    const r = await runPipeline(p, {
      client: c,
      catalog: testCatalog,
      journal: false,
      mode: 'full',
      confirmWrite: true,
    });
    expect(r.status).toBe('failed');
    const step = r.steps.find((x) => x.id === 'b')!;
    expect(step.errors?.[0]).toMatchObject({ code: 'BATCH_COMMAND_REFUSED' });
    expect(step.errors?.[0]?.message).toContain('params of batch command "upd" must be a map or a list');
    expect(c.calls).toEqual([]);
  });

  it('a structured batch sends the encoded command with the portal data as one value', async () => {
    const p = loadPipelineText(
      `name: t
steps:
  - id: get
    method: crm.deal.get
    params: { id: 5 }
  - id: b
    method: batch
    params:
      cmd:
        upd: { method: crm.deal.update, params: { id: 5, fields: { COMMENTS: "\${{ steps.get.result.TITLE }}" } } }
`,
      't.yaml',
    );
    const c = new Recorder();
    const r = await runPipeline(p, {
      client: c,
      catalog: testCatalog,
      journal: false,
      mode: 'full',
      confirmWrite: true,
    });
    expect(r.status).toBe('completed');
    const batch = c.calls.find((x) => x.method === 'batch')!;
    const q = batch.params.cmd.upd as string;
    expect(decodeParams(q.slice(q.indexOf('?') + 1))).toEqual({
      id: '5',
      fields: { COMMENTS: 'x&id=7&cmd[d]=crm.deal.delete?id=8' },
    });
  });
});

describe('sub-pipeline paths stay inside the calling pipeline folder', () => {
  const root = testDir('b24flow-confine-');
  const dir = join(root, 'flows');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  afterAll(() => (scanPending() ? undefined : rmSync(root, { recursive: true, force: true })));
  // a valid pipeline outside the folder that would write if it were ever loaded
  const outside = 'name: outside\nsteps:\n  - id: drop\n    method: crm.deal.delete\n    params: { id: 1 }\n';
  writeFileSync(join(root, 'outside.yaml'), outside);
  writeFileSync(join(root, '.env'), 'BITRIX_WEBHOOK_URL=https://secret.example/rest/1/topsecret/\n');
  writeFileSync(
    join(dir, 'sub', 'child.yaml'),
    'name: child\nsteps:\n  - id: ok\n    method: crm.deal.get\n    params: { id: 1 }\n',
  );
  symlinkSync(join(root, 'outside.yaml'), join(dir, 'link.yaml'));
  const parent = (ref: string) => {
    const file = join(dir, `p-${ref.replace(/\W/g, '_')}.yaml`);
    writeFileSync(file, `name: parent\nsteps:\n  - id: sub\n    pipeline: ${ref}\n`);
    return file;
  };

  it('subPipelinePath refuses absolute paths, ../ and symlinks out; accepts a file below', async () => {
    const at = async (ref: string) =>
      subPipelinePath(await loadPipelineFile(parent(ref)), { id: 'sub', pipeline: ref } as never);
    await expect(at('../.env')).rejects.toThrow(/outside the pipeline's folder/);
    await expect(at('sub/../../outside.yaml')).rejects.toThrow(/outside the pipeline's folder/);
    await expect(at('/etc/passwd')).rejects.toThrow(/absolute path/);
    await expect(at(join(dir, 'sub', 'child.yaml'))).rejects.toThrow(/absolute path/);
    await expect(at('link.yaml')).rejects.toThrow(/symlink/);
    expect(await at('sub/child.yaml')).toBe(join(dir, 'sub', 'child.yaml'));
  });

  it('check reports them and the run never loads them (the outside pipeline never runs)', async () => {
    for (const ref of ['../outside.yaml', '../.env', '/etc/passwd', 'link.yaml']) {
      const p = await loadPipelineFile(parent(ref));
      const f = checkPipeline(p, { catalog: testCatalog }).filter((x) => x.rule === 'unknown-recipe');
      expect(
        f.map((x) => `${x.line}:${x.col} ${x.severity}`),
        ref,
      ).toEqual(['4:15 error']);
      expect(f[0]!.message).toContain(`sub-pipeline "${ref}"`);
      const c = new Recorder();
      const run = runPipeline(p, {
        client: c,
        catalog: testCatalog,
        journal: false,
        mode: 'full',
        confirmWrite: true,
        confirmDestructive: true,
      });
      await expect(run, ref).rejects.toThrow(/a sub-pipeline must be a relative path inside the folder/);
      await expect(run).rejects.not.toThrow(/topsecret|root:/);
      expect(c.calls).toEqual([]);
    }
  });
});
