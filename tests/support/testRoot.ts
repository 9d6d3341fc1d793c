/**
 * One root directory per test run for every file the tests write (data dirs, journals, audit logs, DLQs, plans,
 * interaction logs, token stores, sandbox snapshots). tests/globalSetup.ts creates it (on tmpfs when available),
 * exports it as `B24FLOW_TEST_ROOT`, scans it for secrets at the end of the run and removes it when clean.
 */
import { accessSync, constants, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Name of the environment variable that carries the run's root. */
export const TEST_ROOT_ENV = 'B24FLOW_TEST_ROOT';

/** Where per-worker secret lists are dropped (excluded from the scan). */
export const SECRETS_DIR = '.secrets';

/** tmpfs (`/dev/shm`) when writable — journals fsync per run — else the OS temp dir. */
export function fastTmpBase(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** The run's root (created by globalSetup; a fallback under the temp dir when a file runs without it). */
export function testRoot(): string {
  let root = process.env[TEST_ROOT_ENV];
  if (!root) {
    root = join(tmpdir(), 'b24flow-tests-adhoc');
    process.env[TEST_ROOT_ENV] = root;
  }
  mkdirSync(root, { recursive: true });
  return root;
}

/** True while the run's teardown owns cleanup (files stay until the final secret scan). */
export function scanPending(): boolean {
  return Boolean(process.env[TEST_ROOT_ENV]);
}

/** A fresh directory under the run's root, e.g. `testDir('b24flow-trg-')`. */
export function testDir(prefix = 'b24flow-'): string {
  return mkdtempSync(join(testRoot(), prefix));
}
