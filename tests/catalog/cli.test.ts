import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanPending, testDir } from '../support/testRoot.js';
import { cli, root } from './helpers.js';

const fixtures = 'tests/fixtures/catalog';

describe('b24flow catalog validate', () => {
  it('exits 0 on the shipped catalog', () => {
    const r = cli(['catalog', 'validate']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/catalog ok: \d+ files, \d+ method entries, \d+ recipes/);
  });

  it('names file, line, column and field of a bad risk class, exit 2', () => {
    const r = cli(['catalog', 'validate', `${fixtures}/bad-risk`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${fixtures}/bad-risk/core.yaml:8:11: must be one of "read", "write", "destructive" (field /methods/0/risk) [schema]`,
    );
  });

  it('reports YAML syntax errors with their position', () => {
    const r = cli(['catalog', 'validate', `${fixtures}/bad-yaml/core.yaml`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${fixtures}/bad-yaml/core\\.yaml:\\d+:\\d+: YAML syntax: .* \\[yaml\\]`));
  });

  it('points at unknown keys and wrong param types', () => {
    const r = cli(['catalog', 'validate', `${fixtures}/unknown-key`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${fixtures}/unknown-key/comms.yaml:22:5: unknown property "retries" (field /methods/0/retries)`,
    );
    expect(r.stderr).toMatch(/comms\.yaml:21:\d+: must be one of .* \(field \/methods\/0\/params\/1\/type\)/);
  });

  it('cross-checks duplicates, vocabulary, done phrases and scopes', () => {
    const dup = cli(['catalog', 'validate', `${fixtures}/vocab-dup`]);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(
      /vocab-dup\/core\.yaml:4:\d+: vocabulary term "order" also routes to pack commerce \(field \/vocabulary\/en\/1\) \[vocabulary-duplicate\]/,
    );
    expect(dup.stderr).toMatch(/crm\.deal\.get is also listed in .*commerce\.yaml .*\[duplicate-method\]/);
    expect(dup.stderr).toMatch(/warning: scope "sale" is not needed .*\[scope-unused\]/);
    const done = cli(['catalog', 'validate', `${fixtures}/missing-done`]);
    expect(done.code).toBe(2);
    expect(done.stderr).toMatch(
      /missing-done\/core\.yaml:6:5: write method tasks\.task\.add needs "done" phrases .*\(field \/methods\/0\) \[done-phrases\]/,
    );
    expect(done.stderr).toMatch(
      /missing-done\/core\.yaml:18:\d+: scope "im" of im\.message\.add is missing .*\[scope-missing\]/,
    );
  });

  it('checks that recipes reference existing methods, steps and inputs', () => {
    const r = cli(['catalog', 'validate', `${fixtures}/recipe-unknown-method`, '--json']);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      findings: Array<{ rule: string; line: number; field: string }>;
    };
    expect(report.ok).toBe(false);
    const rules = report.findings.map((f) => `${f.rule}@${f.line}${f.field}`);
    expect(rules).toEqual(
      expect.arrayContaining([
        'unknown-method@8/steps/0/method',
        'unknown-need@13/steps/1/needs/0',
        'unknown-input@17/steps/1/params/MESSAGE',
      ]),
    );
  });

  it('refuses a curated risk below the reference, effects that drop or misname params or state both conditions', () => {
    const r = cli(['catalog', 'validate', `${fixtures}/risk-downgrade`]);
    expect(r.code).toBe(2);
    const f = `${fixtures}/risk-downgrade/core.yaml`;
    expect(r.stderr).toContain(
      `${f}:8:11: risk read of event.offline.clear is below the reference's reviewed risk destructive; a curated entry may raise a risk, never lower it (field /methods/0/risk) [risk-downgrade]`,
    );
    expect(r.stderr).toContain(
      `${f}:28:16: effect of event.offline.get names param "purge", which the method does not declare (field /methods/1/effects/0/param) [unknown-effect-param]`,
    );
    expect(r.stderr).toMatch(
      /core\.yaml:28:7: effects of event\.offline\.get drop the reference's destructive effect of param "clear" .*\[effects-downgrade\]/,
    );
    expect(r.stderr).toContain(
      `${f}:38:11: risk write of crm.automation.trigger.delete is below destructive, the risk of its verb "delete" (field /methods/2/risk) [risk-downgrade]`,
    );
    expect(r.stderr).toContain(
      `${f}:61:9: effect of im.v2.Event.get on "offset" has both "when" and "unless"; state one of them (field /methods/3/effects/0) [effect-condition]`,
    );
  });

  const tmp = testDir('b24flow-catalog-');
  afterAll(() => (scanPending() ? undefined : rmSync(tmp, { recursive: true, force: true })));

  it('detects a stale compiled index and still answers from the sources; build fixes it', () => {
    const dir = join(tmp, 'catalog');
    cpSync(join(root, 'catalog'), dir, { recursive: true });
    const file = join(dir, 'packs', 'core.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('en: "Creates a deal."', 'en: "Opens a new deal."'));
    const stale = cli(['catalog', 'validate', '--dir', dir]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/index\.json:1:1: compiled index is missing or older .* \[stale-index\]/);
    const show = cli(['catalog', 'show', 'crm.deal.add', '--json', '--dir', dir]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout).summary.en).toBe('Opens a new deal.');
    expect(show.stderr).toMatch(/out of date/);
    expect(cli(['catalog', 'build', '--dir', dir]).code).toBe(0);
    expect(cli(['catalog', 'validate', '--dir', dir]).code).toBe(0);
    const fresh = cli(['catalog', 'show', 'crm.deal.add', '--json', '--dir', dir]);
    expect(fresh.stderr).toBe('');
    expect(JSON.parse(fresh.stdout).summary.en).toBe('Opens a new deal.');
  });
});

describe('b24flow catalog validate (whole directory)', () => {
  const tmp = testDir('b24flow-catalog-risk-');
  afterAll(() => (scanPending() ? undefined : rmSync(tmp, { recursive: true, force: true })));

  it('refuses a pack that downgrades a reviewed reference risk', () => {
    const dir = join(tmp, 'catalog');
    cpSync(join(root, 'catalog'), dir, { recursive: true });
    const file = join(dir, 'packs', 'core.yaml');
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('  - name: event.offline.clear');
    writeFileSync(file, text.slice(0, at) + text.slice(at).replace('risk: destructive', 'risk: write'));
    const r = cli(['catalog', 'validate', '--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /packs\/core\.yaml:\d+:11: risk write of event\.offline\.clear is below the reference's reviewed risk destructive.* \(field \/methods\/\d+\/risk\) \[risk-downgrade\]/,
    );
  });
});

describe('b24flow catalog show / packs / scopes / search', () => {
  it('show prints the param-dependent effects (en/ru) and --json includes them', () => {
    const human = cli(['catalog', 'show', 'event.offline.get']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(
      '  effects (risk of a call by its params):\n    clear ≠ 0 (default 1) → destructive\n',
    );
    expect(human.stdout).toContain('      removes the returned events from the offline queue\n');
    expect(human.stdout).toContain('      удаляет полученные события из очереди офлайн-событий\n');
    const json = JSON.parse(cli(['catalog', 'show', 'event.offline.get', '--json']).stdout);
    expect(json.risk).toBe('read');
    expect(json.effects).toEqual([
      {
        param: 'clear',
        default: 1,
        unless: [0],
        risk: 'destructive',
        summary: {
          en: 'removes the returned events from the offline queue',
          ru: 'удаляет полученные события из очереди офлайн-событий',
        },
      },
    ]);
    const ref = cli(['catalog', 'show', 'im.notify.read.list']);
    expect(ref.stdout).toMatch(/^im\.notify\.read\.list {2}\(reference, reviewed risk\)\n.*risk write/s);
  });

  it('show --json prints name, scope, risk, auth, pack and params', () => {
    const r = cli(['catalog', 'show', 'crm.deal.add', '--json']);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m).toMatchObject({
      name: 'crm.deal.add',
      scope: 'crm',
      risk: 'write',
      auth: 'any',
      pack: 'core',
      curated: true,
    });
    expect(m.params[0]).toMatchObject({ name: 'fields', required: true });
    expect(m.params[0].fields.find((f: { name: string }) => f.name === 'TITLE').required).toBe(true);
  });

  it('show finds reference methods case-insensitively and refuses unknown ones with exit 2', () => {
    const ref = cli(['catalog', 'show', 'CRM.AUTOMATION.TRIGGER.ADD', '--json']);
    expect(ref.code).toBe(0);
    expect(JSON.parse(ref.stdout)).toMatchObject({ name: 'crm.automation.trigger.add', curated: false, pack: null });
    const human = cli(['catalog', 'show', 'bizproc.workflow.kill']);
    expect(human.stdout).toMatch(/risk destructive/);
    const bad = cli(['catalog', 'show', 'crm.deal.explode']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown method "crm\.deal\.explode"/);
  });

  it('packs --json lists the 12 packs with methods and scopes', () => {
    const r = cli(['catalog', 'packs', '--json']);
    expect(r.code).toBe(0);
    const packs = JSON.parse(r.stdout) as Array<{ name: string; methods: string[]; scopes: string[] }>;
    expect(packs.map((p) => p.name)).toEqual([
      'core',
      'comms',
      'automation',
      'collab',
      'content',
      'boards',
      'commerce',
      'services',
      'platform',
      'sites',
      'compliance',
      'diagnostics',
    ]);
    expect(packs.find((p) => p.name === 'boards')!.methods).toContain('tasks.api.scrum.kanban.deleteTask');
    expect(packs.find((p) => p.name === 'core')!.scopes).toEqual(['crm', 'task', 'user', 'department']);
  });

  it('scopes --packs gives the least-privilege union and rejects unknown packs', () => {
    const r = cli(['catalog', 'scopes', '--packs', 'core,comms', '--json']);
    expect(r.code).toBe(0);
    const { scopes } = JSON.parse(r.stdout) as { scopes: string[] };
    expect(scopes).toContain('crm');
    expect(scopes).toContain('im');
    expect(scopes).not.toContain('disk');
    expect(scopes).not.toContain('bizproc');
    expect(cli(['catalog', 'scopes', '--packs', 'core']).stdout.trim()).toBe('crm,department,task,user');
    const bad = cli(['catalog', 'scopes', '--packs', 'core,crm']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown pack "crm"/);
  });

  it('search answers Russian and English queries', () => {
    const ru = cli(['catalog', 'search', 'загрузить', 'файл', '--json']);
    expect(ru.code).toBe(0);
    expect((JSON.parse(ru.stdout) as Array<{ name: string }>).map((m) => m.name)).toContain('disk.folder.uploadFile');
    const en = cli(['catalog', 'search', 'chat', 'message', '--limit', '3']);
    expect(en.stdout).toMatch(/im\.message\.add/);
    expect(cli(['catalog', 'search', 'x', '--limit', 'zero']).code).toBe(2);
  });
});
