/**
 * What `serve`, `events` and `dlq` share: loading a pipelines directory (refusing invalid pipelines by name). The
 * application connection they use is built by the composition root (`connectApp()` of src/cli/compose.ts).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Finding, formatFinding, InvalidInputError } from '../lib/failures.js';
import type { TriggerPipeline } from './dispatcher.js';
import { collectSchedules } from './scheduler.js';

/**
 * Loads and checks every `*.yaml`/`*.yml` pipeline in `dir` (schema, checker rules, schedules).
 * @param opts.check run the checker's rules (default true)
 * @param opts.timezone IANA time zone of schedules without their own (default `UTC`; the CLI passes `B24FLOW_TZ`)
 * @throws InvalidInputError naming each invalid pipeline file with its findings (file:line:col), or when `dir`
 *   cannot be read
 */
export async function loadPipelinesDir(
  dir: string,
  opts: { check?: boolean; timezone?: string } = {},
): Promise<TriggerPipeline[]> {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/i.test(n))
      .sort();
  } catch (err) {
    throw new InvalidInputError(
      `${dir}: cannot read the pipelines directory (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const { loadPipelineFile } = await import('../pipeline/load.js');
  const out: TriggerPipeline[] = [];
  const findings: Finding[] = [];
  const bad = new Set<string>();
  for (const n of names) {
    const file = join(dir, n);
    try {
      const loaded = await loadPipelineFile(file);
      out.push({ name: loaded.pipeline.name, file, def: loaded.pipeline, loaded });
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err;
      bad.add(file);
      if (err.findings.length) findings.push(...err.findings);
      else findings.push({ file, line: 1, col: 1, field: '', message: err.message, rule: 'load', severity: 'error' });
    }
  }
  if (opts.check !== false && out.length) {
    let checker: ((files: string[]) => Promise<Finding[]>) | undefined;
    try {
      const { checkFiles, defaultCatalog } = await import('../pipeline/index.js');
      const catalog = await defaultCatalog();
      checker = async (files) => (await checkFiles(files, { catalog })).findings;
    } catch {
      checker = undefined;
    }
    if (checker) {
      const fs = await checker(out.map((p) => p.file));
      for (const f of fs) {
        if (f.severity !== 'error') continue;
        findings.push(f);
        bad.add(f.file);
      }
    }
  }
  for (const p of out) {
    try {
      collectSchedules([p], opts.timezone ?? 'UTC');
    } catch (err) {
      bad.add(p.file);
      findings.push({
        file: p.file,
        line: 1,
        col: 1,
        field: '/triggers',
        message: (err as Error).message,
        rule: 'schedule',
        severity: 'error',
      });
    }
  }
  const names2 = new Map<string, string>();
  for (const p of out) {
    const prev = names2.get(p.name);
    if (prev) {
      bad.add(p.file);
      findings.push({
        file: p.file,
        line: 1,
        col: 1,
        field: '/name',
        message: `pipeline name ${p.name} is also used by ${prev}`,
        rule: 'duplicate-name',
        severity: 'error',
      });
    }
    names2.set(p.name, p.file);
  }
  if (bad.size) {
    throw new InvalidInputError(
      `invalid pipeline${bad.size > 1 ? 's' : ''}: ${[...bad].join(', ')}\n${findings.map(formatFinding).join('\n')}`,
      findings,
    );
  }
  return out;
}
