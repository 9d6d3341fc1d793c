import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * Writes a file atomically: the data goes to a temporary sibling, is fsynced, then renamed over the
 * target, so a reader (or a crash) sees either the old content or the new one, never half a file.
 *
 * @param path target file; its directory is created when missing
 * @param data content
 * @param mode file mode, e.g. 0o600 for token stores (default 0o644)
 * @throws the underlying fs error (ENOSPC, EACCES, ...); the temporary file is removed
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Synchronous twin of {@link writeFileAtomic} for shutdown paths and small state files. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, data, { mode });
    const fd = openSync(tmp, 'r+');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw err;
  }
}

/**
 * `mkdir -p` that fails instead of looping: creates each missing ancestor of `dir` with a plain (non-recursive)
 * mkdir, top-down. Node's `mkdir(…, { recursive: true })` retries forever on some paths (e.g. under `/proc`, where
 * mkdir answers ENOENT); this surfaces that error.
 *
 * @throws the first fs error other than EEXIST (ENOENT, ENOTDIR, EACCES, EROFS, …)
 */
export async function mkdirParents(dir: string, mode = 0o777): Promise<void> {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      if ((await stat(d)).isDirectory()) break;
      const err = new Error(`ENOTDIR: not a directory, mkdir '${d}'`) as NodeJS.ErrnoException;
      err.code = 'ENOTDIR';
      throw err;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
