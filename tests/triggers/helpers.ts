/** Shared helpers of the trigger tests: temp dirs, pipelines from real YAML text. */
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipelineFile } from '../../src/pipeline/load.js';
import type { TriggerPipeline } from '../../src/triggers/dispatcher.js';

/**
 * A temporary directory, on tmpfs (`/dev/shm`) when the machine has one: runs journal with fsync, which costs
 * milliseconds per run on a disk. A SIGKILL of a process does not lose what it wrote to tmpfs, so the crash tests
 * keep their meaning.
 */
export function tempDir(prefix = 'b24flow-trg-'): { dir: string; cleanup(): void } {
  let base = tmpdir();
  try {
    accessSync('/dev/shm', constants.W_OK);
    base = '/dev/shm';
  } catch {}
  const dir = mkdtempSync(join(base, prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes YAML text to `<dir>/<name>.yaml` and loads it through the real pipeline loader. */
export async function pipelineFromYaml(dir: string, name: string, yaml: string): Promise<TriggerPipeline> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const loaded = await loadPipelineFile(file);
  return { name: loaded.pipeline.name, file, def: loaded.pipeline, loaded };
}
