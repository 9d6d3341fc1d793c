/** Shared helpers of the trigger tests: temp dirs, pipelines from real YAML text. */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPipelineFile } from '../../src/pipeline/load.js';
import { openStore, type Store } from '../../src/store/index.js';
import { triggerStores } from '../../src/store/triggers.js';
import type { TriggerPipeline } from '../../src/triggers/dispatcher.js';
import type { TriggerStores } from '../../src/triggers/service.js';
import { scanPending, testDir } from '../support/testRoot.js';

/**
 * A temporary directory under the run's test root (tests/support/testRoot.ts), which is on tmpfs (`/dev/shm`)
 * when the machine has one: runs journal with fsync, which costs milliseconds per run on a disk. A SIGKILL of a
 * process does not lose what it wrote to tmpfs, so the crash tests keep their meaning. `cleanup()` leaves the files
 * for the run's final secret scan (the root is removed after it).
 */
export function tempDir(prefix = 'b24flow-trg-'): { dir: string; cleanup(): void } {
  const dir = testDir(prefix);
  return { dir, cleanup: () => (scanPending() ? undefined : rmSync(dir, { recursive: true, force: true })) };
}

/** Writes YAML text to `<dir>/<name>.yaml` and loads it through the real pipeline loader. */
export async function pipelineFromYaml(dir: string, name: string, yaml: string): Promise<TriggerPipeline> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const loaded = await loadPipelineFile(file);
  return { name: loaded.pipeline.name, file, def: loaded.pipeline, loaded };
}

/**
 * The trigger stores on the SQLite store of a data directory (the same file the CLI processes open), and the store
 * itself (for direct queries). One connection per file per process: opening a directory twice shares it.
 */
export async function storesFor(dataDir: string): Promise<TriggerStores & { store: Store }> {
  const store = await openStore({ dataDir });
  return { ...triggerStores(store), store };
}

/**
 * Writes `deal-lead.yaml` into `dir` (created): on ONCRMDEALADD, one `crm.lead.add` per run with ORIGIN_ID
 * `deal-<id>` and no existence check, so a repeated run shows as a second lead. Returns `dir`.
 */
export function writeDealLeadPipeline(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'deal-lead.yaml'),
    `name: deal-lead
packs: [core]
inputs:
  event: { type: map, description: "The Bitrix24 event" }
triggers:
  - event: { events: [ONCRMDEALADD], approve: [write] }
steps:
  - id: lead
    method: crm.lead.add
    params:
      fields:
        TITLE: { $template: "Lead for deal {{ inputs.event.objectId }}" }
        ORIGIN_ID: "\${{ 'deal-' + string(inputs.event.objectId) }}"
`,
  );
  return dir;
}

/** Polls `cond` every 100 ms until it holds; throws `timed out waiting for <what>` after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
