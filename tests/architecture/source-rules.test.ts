/**
 * Rules about the shape of src/ that the type checker and dependency-cruiser do not see:
 * - no dynamic `import()` whose specifier is not a string literal (a variable or an `as string` cast hides the
 *   dependency from tsc, dependency-cruiser and readers);
 * - `process.env` is read only by the composition root (src/cli);
 * - no source file above 700 lines (generated code aside);
 * - an `index.ts` only re-exports.
 * The layer direction itself is enforced by dependency-cruiser (`npm run deps`, .dependency-cruiser.cjs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const src = join(root, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const files = tsFiles(src).map((abs) => ({ path: relative(root, abs), text: readFileSync(abs, 'utf8') }));
const handWritten = files.filter((f) => !f.path.startsWith('src/generated/'));

/** Blanks comments (keeping line numbers) so that documentation mentioning `import(x)` or `process.env` does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, '')).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('src/ source rules', () => {
  it('finds the sources', () => {
    expect(handWritten.length).toBeGreaterThan(50);
  });

  it('has no dynamic import() with a non-literal specifier', () => {
    const bad: string[] = [];
    for (const f of handWritten) {
      const lines = code(f.text).split('\n');
      lines.forEach((line, i) => {
        for (const m of line.matchAll(/\bimport\s*\(\s*([^)]*)\)/g)) {
          const arg = (m[1] ?? '').trim();
          // type positions (`import('x').T`) are literal too; a literal may not be cast or concatenated
          if (!/^(['"])[^'"]+\1$/.test(arg)) bad.push(`${f.path}:${i + 1}: import(${arg})`);
        }
      });
    }
    expect(bad).toEqual([]);
  });

  it('reads process.env only in the composition root (src/cli)', () => {
    const bad = handWritten
      .filter((f) => !f.path.startsWith('src/cli/'))
      .flatMap((f) =>
        code(f.text)
          .split('\n')
          .map((line, i) => (/\bprocess\.env\b/.test(line) ? `${f.path}:${i + 1}` : ''))
          .filter(Boolean),
      );
    expect(bad).toEqual([]);
  });

  it('keeps every hand-written file at 700 lines or fewer', () => {
    const long = handWritten
      .map((f) => ({ path: f.path, lines: f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0) }))
      .filter((f) => f.lines > 700)
      .map((f) => `${f.path}: ${f.lines} lines`);
    expect(long).toEqual([]);
  });

  it('keeps index.ts files to re-exports', () => {
    const bad: string[] = [];
    for (const f of handWritten.filter((x) => x.path.endsWith('/index.ts'))) {
      const statements = code(f.text)
        .replace(/export\s+(type\s+)?\{[^}]*\}\s*from\s*['"][^'"]+['"];?/g, '')
        .replace(/export\s+\*\s*(as\s+\w+\s+)?from\s*['"][^'"]+['"];?/g, '')
        .replace(/import\s+(type\s+)?(\{[^}]*\}|\*\s+as\s+\w+|\w+)\s*from\s*['"][^'"]+['"];?/g, '')
        .replace(/export\s+(type\s+)?\{[^}]*\};?/g, '')
        .trim();
      if (statements) bad.push(`${f.path}: ${statements.split('\n')[0]}`);
    }
    expect(bad).toEqual([]);
  });
});
