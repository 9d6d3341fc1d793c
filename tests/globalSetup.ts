import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Builds dist/ once per test run so tests that spawn `bin/b24flow.js` run the current sources. */
export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
