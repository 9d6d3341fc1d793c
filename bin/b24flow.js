#!/usr/bin/env node
// Entry point of the `b24flow` command. Runs the compiled CLI from dist/ (built by `npm ci`
// through the `prepare` script); falls back to compiling the TypeScript sources on the fly
// with tsx when dist/ is absent (a checkout where `npm ci --ignore-scripts` was used).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
if (existsSync(compiled) && process.env.B24FLOW_FROM_SOURCE !== '1') {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
