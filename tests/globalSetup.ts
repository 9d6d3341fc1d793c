import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FIXED_TEST_SECRETS } from './support/fakeSecrets.js';
import { formatHits, scanForSecrets } from './support/secretScan.js';
import { fastTmpBase, SECRETS_DIR, TEST_ROOT_ENV } from './support/testRoot.js';

/**
 * Files that are credential stores by design, not logs: the OAuth token store (`tokens.json`, mode 0600), `.env`
 * files the tests write as configuration, the sandbox portal's own database snapshot (`portal.ndjson`) and the
 * embedded sandbox's host record (`host.json`, its URL and credentials for the other processes of a data directory;
 * src/cli/sandboxHost.ts). Every other file — logs, journals, audit, state, plans, DLQ, archives — must hold no secret.
 */
const CREDENTIAL_STORES = ['tokens.json', '.env', 'portal.ndjson', 'host.json'];

/** Every secret value the run's test processes registered (dropped by tests/support/collectSecrets.ts). */
function collectedSecrets(root: string): string[] {
  const dir = join(root, SECRETS_DIR);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {}
  return names.flatMap((n) => {
    try {
      return JSON.parse(readFileSync(join(dir, n), 'utf8')) as string[];
    } catch {
      return [];
    }
  });
}

/**
 * Builds dist/ once per test run so tests that spawn `bin/b24flow.js` run the current sources, and creates the
 * run's one root for every file the tests write (`B24FLOW_TEST_ROOT`, inherited by workers and the CLI processes
 * they spawn). The teardown scans every file under that root — logs, journals, audit, state, plans, DLQ, token
 * stores, gzip archives — for the secrets the tests used, fails naming file and line, and removes the root when
 * it is clean (a dirty root is kept for inspection).
 */
export default function setup(): () => void {
  const root = join(import.meta.dirname, '..');
  // the CLI's text outputs are compared byte for byte: a FORCE_COLOR of the caller's shell or CI would colour them
  // (tests/cli/conventions.test.ts sets it where it checks colour)
  delete process.env.FORCE_COLOR;
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  execFileSync(process.execPath, [join(root, 'scripts', 'build-id.mjs')], { cwd: root, stdio: 'inherit' });
  const testRoot = mkdtempSync(join(fastTmpBase(), 'b24flow-test-run-'));
  process.env[TEST_ROOT_ENV] = testRoot;
  // `check`'s result cache of every CLI the tests spawn stays inside the run's root (never in ~/.cache)
  process.env.B24FLOW_CACHE_DIR = join(testRoot, 'cache');
  return () => {
    const secrets = [...FIXED_TEST_SECRETS, ...collectedSecrets(testRoot)];
    const hits = scanForSecrets([testRoot], secrets, { skip: new Set([SECRETS_DIR, ...CREDENTIAL_STORES]) });
    if (hits.length) {
      // vitest reports a teardown error but keeps exit code 0: fail the run explicitly
      process.exitCode = 1;
      throw new Error(
        `secret scan: ${hits.length} secret occurrence(s) in files written by the tests (kept in ${testRoot}):\n${formatHits(hits, testRoot)}`,
      );
    }
    rmSync(testRoot, { recursive: true, force: true });
  };
}
