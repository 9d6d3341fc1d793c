/**
 * Saved pipelines: pipelines kept in the store by name, each save a new version (the YAML text as written, its
 * author — a linked Bitrix24 user or the CLI — and when), listed, diffed and disabled like files in a folder, so that
 * what a person wrote or the planner proposed can be run again, scheduled and shared. The store's implementation is
 * src/store/savedPipelines.ts. Saving validates first: a pipeline that does not load or check clean is not saved.
 */
import { createTwoFilesPatch } from 'diff';
import { InvalidInputError } from '../lib/failures.js';
import { hashOf } from './load.js';

/** One saved version. */
export interface SavedPipeline {
  name: string;
  /** 1, 2, … per name. */
  version: number;
  /** The YAML text as saved. */
  text: string;
  /** SHA-256 (hex) of the text: saving the same text again adds no version. */
  hash: string;
  /** Who saved it: `bitrix:<id>` (a linked user), `cli`, … */
  author?: string;
  /** ISO time. */
  savedAt: string;
  /** A disabled pipeline is not run by serve, chat or `run <name>` (every version of the name). */
  disabled: boolean;
}

/** Where saved pipelines live. */
export interface SavedPipelineStore {
  /**
   * Saves `text` as the next version of `name`; the same text as the latest version returns that version unchanged
   * (`created: false`).
   */
  save(name: string, text: string, author?: string): Promise<{ saved: SavedPipeline; created: boolean }>;
  /** The latest version of a name, or one version of it. */
  get(name: string, version?: number): Promise<SavedPipeline | undefined>;
  /** Every version of a name, oldest first. */
  versions(name: string): Promise<SavedPipeline[]>;
  /** The latest version of every name, by name. */
  list(): Promise<SavedPipeline[]>;
  /** Disables or enables a name; false when there is no such name. */
  setDisabled(name: string, disabled: boolean): Promise<boolean>;
}

/** The shape of a saved pipeline's name (the same as a pipeline's `name:`). */
export const SAVED_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The content hash of a saved text. @throws InvalidInputError for a bad name */
export function savedHash(name: string, text: string): string {
  if (!SAVED_NAME.test(name)) throw new InvalidInputError(`"${name}" is not a pipeline name (a-z, 0-9, _ and -)`);
  return hashOf({ name, text });
}

/**
 * One saved version of a name: the latest, or the version given (`"3"` or `"v3"`).
 * @throws InvalidInputError for a version that is not a positive integer, or when there is no such name or version
 */
export async function savedVersion(store: SavedPipelineStore, name: string, v?: string): Promise<SavedPipeline> {
  const n = v === undefined ? undefined : Number(v.replace(/^v/i, ''));
  if (n !== undefined && !(Number.isInteger(n) && n > 0)) throw new InvalidInputError(`"${v}" is not a version number`);
  const s = await store.get(name, n);
  if (!s) throw new InvalidInputError(`no saved pipeline ${name}${n ? ` version ${n}` : ''}`);
  return s;
}

/**
 * A unified diff between two saved versions of a name (default: the version before `to`, and `to` = the latest);
 * headers `name@vA` / `name@vB`. An empty patch body means the texts are the same.
 * @throws InvalidInputError as {@link savedVersion}
 */
export async function savedDiff(store: SavedPipelineStore, name: string, from?: string, to?: string): Promise<string> {
  const b = await savedVersion(store, name, to);
  const a = await savedVersion(store, name, from ?? String(Math.max(1, b.version - 1)));
  return createTwoFilesPatch(`${name}@v${a.version}`, `${name}@v${b.version}`, a.text, b.text);
}
