/**
 * Output of `b24flow pipelines …` (src/cli/commands/pipelines.ts): saved pipelines in the store.
 */
import { readFile } from 'node:fs/promises';
import { createTwoFilesPatch } from 'diff';
import { InvalidInputError } from '../../lib/failures.js';
import { checkPipeline, defaultCatalog, loadPipelineText, type SavedPipelineStore } from '../../pipeline/index.js';
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
async function version(store: SavedPipelineStore, name: string, v?: string) {
  const n = v === undefined ? undefined : Number(v);
  if (n !== undefined && !(Number.isInteger(n) && n > 0)) throw new InvalidInputError(`"${v}" is not a version number`);
  const s = await store.get(name, n);
  if (!s) throw new InvalidInputError(`no saved pipeline ${name}${n ? ` version ${n}` : ''} (b24flow pipelines list)`);
  return s;
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
  const store = await savedStore();
  const b = await version(store, name, to);
  const a = await version(store, name, from ?? String(Math.max(1, b.version - 1)));
  out(createTwoFilesPatch(`${name}@v${a.version}`, `${name}@v${b.version}`, a.text, b.text));
}

/** `pipelines disable|enable <name>`. */
export async function pipelinesDisable(name: string, disabled: boolean): Promise<void> {
  if (!(await (await savedStore()).setDisabled(name, disabled)))
    throw new InvalidInputError(`no saved pipeline ${name} (b24flow pipelines list)`);
  out(`${name} ${disabled ? 'disabled' : 'enabled'}\n`);
}
