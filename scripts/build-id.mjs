// Writes dist/build-id.json: a sha256 over every compiled file in dist/ (relative path + bytes). Caches keyed by the
// code that computed a result (the `check` result cache) use it, so a rebuilt dist/ never reads stale results.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const dist = join(import.meta.dirname, '..', 'dist');
const files = [];
(function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.js')) files.push(p);
  }
})(dist);
const h = createHash('sha256');
for (const f of files.sort()) h.update(relative(dist, f)).update('\0').update(readFileSync(f)).update('\0');
writeFileSync(join(dist, 'build-id.json'), `${JSON.stringify({ id: h.digest('hex') })}\n`);
