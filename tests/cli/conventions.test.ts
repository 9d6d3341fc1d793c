/**
 * CLI conventions (issue 15), through the real process: colour only on a terminal or with FORCE_COLOR (never with
 * NO_COLOR), EPIPE ends quietly, camelCase keys in --json and JSON errors under --json, `check --format github|sarif`,
 * `init` and `schema --path`, shell completion, and progress lines during long limiter waits.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, root, startPortal, type TestPortal } from '../pipeline/helpers.js';
import { testDir } from '../support/testRoot.js';

const ANSI = /\u001b\[\d+m/;
const paramType = 'tests/fixtures/check/param-type.yaml';

/** Env without a portal and without colour settings inherited from the test runner. */
function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BITRIX_WEBHOOK_URL: '', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '' };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  return { ...env, B24FLOW_CACHE_DIR: testDir('b24flow-conv-cache-'), ...extra };
}

function run(args: string[], env: NodeJS.ProcessEnv = baseEnv()) {
  const r = spawnSync(process.execPath, ['bin/b24flow.js', ...args], { cwd: root, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('colour', () => {
  it('FORCE_COLOR colours check findings; NO_COLOR and a pipe do not', () => {
    const forced = run(['check', paramType], baseEnv({ FORCE_COLOR: '1' }));
    expect(forced.code).toBe(2);
    expect(forced.out).toMatch(ANSI);
    expect(forced.out).toContain('\u001b[31m'); // errors red
    expect(forced.out).toContain('\u001b[33m'); // warnings yellow
    expect(run(['check', paramType], baseEnv({ NO_COLOR: '1' })).out).not.toMatch(ANSI);
    const piped = run(['check', paramType]);
    expect(piped.out).not.toMatch(ANSI);
    expect(piped.err).not.toMatch(ANSI);
  });
});

describe('EPIPE', () => {
  /** Spawns with stdout piped and closes the reading end (at once, or after the first chunk). */
  function closedPipe(args: string[], when: 'now' | 'first-chunk') {
    return new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, ['bin/b24flow.js', ...args], { cwd: root, env: baseEnv() });
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      if (when === 'now') c.stdout.destroy();
      else c.stdout.once('data', () => c.stdout.destroy());
      c.on('close', (code) => resolve({ code, stderr }));
    });
  }

  it.each([
    [['catalog', 'packs'], 'now'],
    [['catalog', 'search', 'deal', '--limit', '200'], 'first-chunk'],
    [['catalog', 'recipes', '--json'], 'now'],
    [['--help'], 'now'],
    [['completion', 'bash'], 'first-chunk'],
  ] as const)('%j with the reader gone (%s) ends quietly', async (args, when) => {
    const r = await closedPipe([...args], when);
    expect(r.stderr).not.toMatch(/EPIPE|Error:|at .*\.js/);
    expect(r.code).toBe(0);
  });
});

describe('--json', () => {
  it('uses camelCase for b24flow keys', () => {
    const r = run(['catalog', 'packs', '--json']);
    const packs = JSON.parse(r.out) as Record<string, unknown>[];
    expect(packs[0]).toHaveProperty('methodCount');
    expect(packs[0]).not.toHaveProperty('method_count');
  });

  it('a usage error is JSON on stderr with exit 2', () => {
    const r = run(['check', '--bogus', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.err)).toEqual({ error: { code: 'USAGE', message: "unknown option '--bogus'" } });
    expect(r.out).toBe('');
  });

  it('other errors are JSON too; without --json they stay text', () => {
    const r = run(['runs', 'show', 'r-none', '--json'], baseEnv({ B24FLOW_DATA_DIR: testDir('b24flow-conv-') }));
    expect(r.code).toBe(2);
    expect(JSON.parse(r.err).error).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('r-none'),
    });
    const t = run(['runs', 'show', 'r-none'], baseEnv({ B24FLOW_DATA_DIR: testDir('b24flow-conv-') }));
    expect(t.err).toMatch(/^b24flow: unknown run "r-none"/);
  });
});

describe('check --format', () => {
  it('github prints workflow commands for errors and warnings', () => {
    const r = run(['check', '--format', 'github', paramType]);
    expect(r.code).toBe(2);
    const lines = r.out.trim().split('\n');
    expect(lines).toContain(
      `::error file=${paramType},line=23,col=11,title=param-type::id is integer, got string "latest" (field /steps/2/params/id)`,
    );
    expect(lines).toContain(
      `::warning file=${paramType},line=13,col=13,title=deprecated-method::"crm.deal.get" is deprecated; use crm.item.get (field /steps/0/method)`,
    );
    for (const l of lines) expect(l).toMatch(/^::(error|warning|notice) file=[^,]+,line=\d+,col=\d+,title=[a-z-]+::/);
  });

  it('sarif is a SARIF 2.1.0 log whose every result names a listed rule', () => {
    const r = run(['check', '--format', 'sarif', paramType]);
    expect(r.code).toBe(2);
    const log = JSON.parse(r.out);
    expect(log.version).toBe('2.1.0');
    expect(log.$schema).toMatch(/sarif-2\.1\.0/);
    expect(log.runs).toHaveLength(1);
    const { driver } = log.runs[0].tool;
    expect(driver.name).toBe('b24flow');
    const ids = driver.rules.map((x: { id: string }) => x.id);
    expect(ids).toEqual(expect.arrayContaining(['param-type', 'deprecated-method', 'unknown-method']));
    for (const x of driver.rules) expect(x.shortDescription.text).toBeTruthy();
    const results = log.runs[0].results;
    expect(results).toHaveLength(8);
    for (const res of results) {
      expect(ids).toContain(res.ruleId);
      expect(driver.rules[res.ruleIndex].id).toBe(res.ruleId);
      expect(['error', 'warning', 'note']).toContain(res.level);
      expect(res.message.text).toBeTruthy();
      const loc = res.locations[0].physicalLocation;
      expect(loc.artifactLocation.uri).toBe(paramType);
      expect(loc.region.startLine).toBeGreaterThan(0);
      expect(loc.region.startColumn).toBeGreaterThan(0);
    }
    expect(results.filter((x: { level: string }) => x.level === 'warning')).toHaveLength(3);
  });

  it('refuses an unknown format', () => {
    expect(run(['check', '--format', 'xml', paramType]).code).toBe(2);
  });
});

describe('init and schema', () => {
  it('schema --path names the installed schema, whose $id is stable', () => {
    const r = run(['schema', '--path']);
    expect(r.code).toBe(0);
    const path = r.out.trim();
    expect(path).toBe(join(root, 'schemas', 'pipeline.schema.json'));
    expect(JSON.parse(readFileSync(path, 'utf8')).$id).toBe('https://b24flow.dev/schemas/pipeline.schema.json');
  });

  it('init writes a starter folder that checks clean, and refuses to overwrite it', () => {
    const dir = join(testDir('b24flow-init-'), 'project');
    const r = run(['init', dir]);
    expect(r.code).toBe(0);
    for (const f of ['.env.example', 'pipelines/hello.yaml', 'README.md']) expect(existsSync(join(dir, f))).toBe(true);
    const env = readFileSync(join(dir, '.env.example'), 'utf8');
    expect(env).toMatch(/^BITRIX_WEBHOOK_URL=$/m);
    expect(env).not.toMatch(/^[A-Z_0-9]+=\S/m); // no values
    const hello = readFileSync(join(dir, 'pipelines/hello.yaml'), 'utf8');
    const ref = /^# yaml-language-server: \$schema=(.+)$/m.exec(hello)?.[1];
    expect(ref).toBe(join(root, 'schemas', 'pipeline.schema.json')); // outside the package: absolute
    const checked = run(['check', join(dir, 'pipelines/hello.yaml')]);
    expect(checked.err).toBe('');
    expect(checked.out).toMatch(/hello\.yaml: ok/);
    expect(checked.out).not.toMatch(/warning/);
    const again = run(['init', dir]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/refusing to overwrite/);
  });
});

describe('completion', () => {
  it('bash lists commands, subcommands and options from the command tree', () => {
    const r = run(['completion', 'bash']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/'approvals'\) words=/);
    expect(r.out).toMatch(/'check'\) words='[^']*--format/);
    const top = /^ {4}''\) words='([^']*)'/m.exec(r.out)?.[1]?.split(' ');
    expect(top).toEqual(expect.arrayContaining(['approvals', 'check', 'catalog', 'run']));
    const complete = spawnSync(
      'bash',
      [
        '-c',
        `eval "$1"; COMP_WORDS=(b24flow check --fo); COMP_CWORD=2; _b24flow_complete; echo "\${COMPREPLY[*]}"`,
        'x',
        r.out,
      ],
      { encoding: 'utf8' },
    );
    expect(complete.stdout.trim()).toBe('--format');
  });

  it('zsh and fish scripts are generated too', () => {
    expect(run(['completion', 'zsh']).out).toMatch(/^#compdef b24flow/);
    expect(run(['completion', 'fish']).out).toMatch(/complete -c b24flow .* -l format/);
    expect(run(['completion', 'tcsh']).code).toBe(2);
  });
});

describe('waits', () => {
  let p: TestPortal;
  beforeAll(async () => {
    p = await startPortal();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('a 429 wait prints plain "waiting" lines on a non-TTY stderr', async () => {
    const file = join(testDir('b24flow-wait-'), 'w.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      file,
      'name: w\npacks: [core]\nsteps:\n  - id: deals\n    method: crm.item.list\n    params: { entityTypeId: 2, select: [id] }\n',
    );
    await p.sb.admin.faults({ method: 'crm.item.list', kind: '429', count: 1 });
    // the method is parked 60 portal seconds: 3 s at a clock 20× as fast; a notice interval of 1 s
    const r = await cli(['run', file], { ...p.env, B24_CLOCK_FACTOR: '20', B24FLOW_WAIT_NOTICE_S: '1' });
    expect(r.code).toBe(0);
    const waits = r.stderr
      .split('\n')
      .filter((l) => /^b24flow: crm\.item\.list hit the operating time limit \(429\); waiting/.test(l));
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(r.stderr).not.toMatch(/\r|\u001b\[/);
  });
});
