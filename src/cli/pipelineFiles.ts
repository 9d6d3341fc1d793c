/**
 * Pipeline file arguments of the CLI. A path that exists is used as given. A path that does not exist but names one
 * of the examples shipped with b24flow (`pipelines/stale-deals.yaml`, `stale-deals.yaml` or `stale-deals`) is the
 * shipped file, said once on stderr: an installed b24flow runs its own examples from any directory, as the README's
 * quick start does from a clone.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';

/** The examples shipped with the package (`<package>/pipelines`, two levels up from both src/cli and dist/cli). */
const SHIPPED = join(import.meta.dirname, '..', '..', 'pipelines');

/**
 * The file to load for a pipeline argument.
 *
 * @param arg the path the person typed
 * @param note where to say that a shipped example was used (default stderr)
 * @returns `arg` when it exists or names no shipped example (the loader then reports it), else the shipped file's path
 */
export function pipelineFile(arg: string, note: (line: string) => void = (l) => process.stderr.write(l)): string {
  if (existsSync(arg)) return arg;
  const name = basename(arg).replace(/\.ya?ml$/, '');
  const shipped = join(SHIPPED, `${name}.yaml`);
  if (!/^[a-z0-9-]+$/.test(name) || !existsSync(shipped)) return arg;
  const asTyped = arg.replace(/\\/g, '/');
  if (asTyped !== name && asTyped !== `${name}.yaml` && asTyped !== `pipelines/${name}.yaml`) return arg;
  note(`b24flow: ${arg} is not in this directory; using the shipped example ${shipped}\n`);
  return shipped;
}
