/**
 * Output of `b24flow pipelines …` (src/cli/commands/pipelines.ts): saved pipelines in the store.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '../../lib/failures.js';
import {
  checkPipeline,
  defaultCatalog,
  loadPipelineText,
  type SavedPipelineStore,
  savedDiff,
  savedVersion,
} from '../../pipeline/index.js';
import { SqlSavedPipelines } from '../../store/savedPipelines.js';
import { readSettings } from '../compose.js';
import { openDataStore } from '../dataStore.js';
import { jsonText } from './jsonOut.js';

function out(s: string): void {
  process.stdout.write(s);
}

/** The store's saved pipelines. */
export async function savedStore(): Promise<SavedPipelineStore> {
  return new SqlSavedPipelines(await openDataStore(readSettings()));
}

/**
 * `pipelines save <file>`: loads and checks the file (errors refuse the save, with their findings), then saves it as
 * the next version of its `name:`.
 */
export async function pipelinesSave(file: string, o: { author?: string }): Promise<void> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new InvalidInputError(`${file}: cannot read (${err.code ?? err.message})`);
  });
  const p = loadPipelineText(text, file);
  const findings = checkPipeline(p, { catalog: await defaultCatalog() }).filter((f) => f.severity === 'error');
  if (findings.length) throw new InvalidInputError(`${file}: not saved — it does not check clean`, findings);
  const { saved, created } = await (await savedStore()).save(p.pipeline.name, text, o.author ?? 'cli');
  out(
    created
      ? `saved ${saved.name} version ${saved.version}\n`
      : `${saved.name} version ${saved.version} has the same text; nothing saved\n`,
  );
}

/** `pipelines list`. */
export async function pipelinesList(o: { json?: boolean }): Promise<void> {
  const list = await (await savedStore()).list();
  if (o.json) return out(jsonText(list.map(({ text: _t, ...rest }) => rest)));
  out(
    list.length
      ? `${list.map((s) => `${s.name}  v${s.version}  ${s.savedAt}  ${s.author ?? ''}${s.disabled ? '  disabled' : ''}`).join('\n')}\n`
      : 'no saved pipelines\n',
  );
}

/** The version of a name the person asked for. @throws InvalidInputError when there is none */
function version(store: SavedPipelineStore, name: string, v?: string) {
  return savedVersion(store, name, v).catch((err: Error) => {
    throw new InvalidInputError(`${err.message} (b24flow pipelines list)`);
  });
}

/** `pipelines show <name> [version]`: the YAML as saved. */
export async function pipelinesShow(name: string, v?: string): Promise<void> {
  out((await version(await savedStore(), name, v)).text);
}

/** `pipelines versions <name>`. */
export async function pipelinesVersions(name: string): Promise<void> {
  const vs = await (await savedStore()).versions(name);
  if (!vs.length) throw new InvalidInputError(`no saved pipeline ${name} (b24flow pipelines list)`);
  out(`${vs.map((s) => `v${s.version}  ${s.savedAt}  ${s.author ?? ''}  ${s.hash.slice(0, 12)}`).join('\n')}\n`);
}

/** `pipelines diff <name> [from] [to]`: a unified diff (default: the version before the latest against the latest). */
export async function pipelinesDiff(name: string, from?: string, to?: string): Promise<void> {
  out(
    await savedDiff(await savedStore(), name, from, to).catch((err: Error) => {
      throw new InvalidInputError(`${err.message} (b24flow pipelines list)`);
    }),
  );
}

/**
 * `pipelines export <name> [version] [--dir D] [--force]`: writes the saved text to `D/<name>.yaml`, so a pipeline
 * saved from chat can join the pipelines folder (and its git history). An existing file is kept unless `--force`.
 * @throws InvalidInputError for an unknown name/version or an existing file without `--force`
 */
export async function pipelinesExport(
  name: string,
  v: string | undefined,
  o: { dir: string; force?: boolean },
): Promise<void> {
  const s = await version(await savedStore(), name, v);
  const file = join(o.dir, `${name}.yaml`);
  await mkdir(o.dir, { recursive: true });
  await writeFile(file, s.text, { flag: o.force ? 'w' : 'wx' }).catch((err: NodeJS.ErrnoException) => {
    throw new InvalidInputError(
      err.code === 'EEXIST' ? `${file} exists; nothing written (--force replaces it)` : `${file}: ${err.message}`,
    );
  });
  out(`wrote ${file} (${name} version ${s.version})\n`);
}

/** `pipelines disable|enable <name>`. */
export async function pipelinesDisable(name: string, disabled: boolean): Promise<void> {
  if (!(await (await savedStore()).setDisabled(name, disabled)))
    throw new InvalidInputError(`no saved pipeline ${name} (b24flow pipelines list)`);
  out(`${name} ${disabled ? 'disabled' : 'enabled'}\n`);
}
