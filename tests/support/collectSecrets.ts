/**
 * vitest setup file (runs in every test file's process): after the file's tests, drops every secret that process
 * registered for redaction (webhook codes, OAuth tokens, client secrets, application tokens — learned by the client,
 * the token stores and the embedded sandbox) into `<test root>/.secrets/`, where the run's final scan
 * (tests/globalSetup.ts) picks them up.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { registeredSecrets } from '../../src/lib/redact.js';
import { SECRETS_DIR, TEST_ROOT_ENV } from './testRoot.js';

afterAll(() => {
  const root = process.env[TEST_ROOT_ENV];
  if (!root) return;
  const values = registeredSecrets();
  if (!values.length) return;
  const dir = join(root, SECRETS_DIR);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`),
    JSON.stringify(values),
  );
});
