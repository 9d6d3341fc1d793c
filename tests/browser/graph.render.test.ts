/**
 * `b24flow graph` renders: the Mermaid text the CLI prints for every shipped pipeline is rendered by the real
 * Mermaid library in a real browser (Debian's Chromium driven by playwright-core; `.ci/run` installs it), and the
 * SVG holds a node for every step. A syntax error in the output makes `mermaid.render` reject, which fails here.
 *
 * B24FLOW_CHROMIUM overrides the browser path (default /usr/bin/chromium). B24FLOW_GRAPH_SCREENSHOT=DIR also saves
 * one PNG per pipeline there, for a person to look at.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const executablePath = process.env.B24FLOW_CHROMIUM ?? '/usr/bin/chromium';
const mermaidJs = join(root, 'node_modules', 'mermaid', 'dist', 'mermaid.min.js');
const shots = process.env.B24FLOW_GRAPH_SCREENSHOT;
const pipelines = readdirSync(join(root, 'pipelines'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function graph(file: string): string {
  const r = spawnSync(process.execPath, ['bin/b24flow.js', 'graph', file], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, BITRIX_WEBHOOK_URL: '', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '' },
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('b24flow graph renders in a browser', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(executablePath)) {
      throw new Error(`no browser at ${executablePath}: apt-get install -y chromium (or set B24FLOW_CHROMIUM)`);
    }
    browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('finds the shipped pipelines', () => {
    expect(pipelines.length).toBeGreaterThanOrEqual(6);
  });

  it.each(pipelines)('%s', async (name) => {
    const text = graph(`pipelines/${name}`);
    const stepIds = [...text.matchAll(/^\s*(s\d+)\["/gm)].map((m) => m[1]!);
    expect(stepIds.length).toBeGreaterThan(0);
    const page = await browser.newPage();
    try {
      await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>');
      await page.addScriptTag({ path: mermaidJs });
      const svg = await page.evaluate(async (src) => {
        const m = (globalThis as unknown as { mermaid: any }).mermaid;
        m.initialize({ startOnLoad: false, securityLevel: 'strict' });
        const { svg } = await m.render('g', src);
        const doc = (globalThis as unknown as { document: { getElementById(id: string): { innerHTML: string } } })
          .document;
        doc.getElementById('out').innerHTML = svg;
        return svg as string;
      }, text);
      expect(svg).toMatch(/^<svg/);
      // one rendered node per step: Mermaid gives each node an element id containing the flowchart id
      const rendered = await page.$$eval('#out g.node', (els) => els.map((e) => e.id));
      for (const id of stepIds) expect(rendered.some((r) => r.includes(`-${id}-`))).toBe(true);
      if (shots) {
        mkdirSync(shots, { recursive: true });
        await page.locator('#out svg').screenshot({ path: join(shots, `${name}.png`) });
      }
    } finally {
      await page.close();
    }
  });
});
