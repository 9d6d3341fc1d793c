/** Shared helpers of the trigger tests: temp dirs, pipelines from real YAML text. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipelineFile } from '../../src/pipeline/load.js';
import type { TriggerPipeline } from '../../src/triggers/dispatcher.js';

export function tempDir(prefix = 'b24flow-trg-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes YAML text to `<dir>/<name>.yaml` and loads it through the real pipeline loader. */
export async function pipelineFromYaml(dir: string, name: string, yaml: string): Promise<TriggerPipeline> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const loaded = await loadPipelineFile(file);
  return { name: loaded.pipeline.name, file, def: loaded.pipeline, loaded };
}
