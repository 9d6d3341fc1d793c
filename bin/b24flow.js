#!/usr/bin/env node
// Entry point of the `b24flow` command: runs the compiled CLI in dist/ with plain Node (no TypeScript at run time).
// dist/ ships in the npm package (`prepack`) and is built in a clone by `npm ci` (`prepare`) or `npm run build`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
if (!existsSync(compiled)) {
  process.stderr.write('b24flow: dist/ is missing; run `npm run build` in the b24flow checkout first\n');
  process.exit(1);
}
await import(pathToFileURL(compiled).href);
