#!/usr/bin/env node
// Entry point of the `b24flow` command: runs the compiled CLI in dist/ with plain Node (no TypeScript at run time).
// dist/ ships in the npm package (built by `prepack`; the package has no install scripts). In a clone, the first run
// builds it when the dev dependencies are installed (`npm ci`); `npm run build` rebuilds it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`b24flow: needs Node.js 22.13 or newer (24 LTS recommended); this is ${process.version}\n`);
  process.exit(1);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(compiled)) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    process.stderr.write('b24flow: dist/ is missing; run `npm ci && npm run build` in the b24flow checkout\n');
    process.exit(1);
  }
  process.stderr.write('b24flow: building dist/ (first run in this checkout)\n');
  for (const args of [[tsc, '-p', 'tsconfig.build.json'], [join(root, 'scripts', 'build-id.mjs')]]) {
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 2, 2] });
    if (r.status !== 0) process.exit(1);
  }
}
// V8 code cache for our modules and dependencies (Node >= 22.1; kept in the OS temp dir, keyed by file content):
// start-up no longer recompiles the same JavaScript on every command. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
nodeModule.enableCompileCache?.();
await import(pathToFileURL(compiled).href);
