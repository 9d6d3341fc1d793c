/**
 * `npm run conformance`: starts a sandbox, replays the documented examples (tests/fixtures/conformance/cases.json)
 * over HTTP and prints the per-family match table; `--failures` also lists each mismatching case.
 */
import { startSandbox } from '../../src/sandbox/index.js';
import { failures, familyTable, loadCases, replayAll } from './replay.js';

const sb = await startSandbox({ plan: 'unlimited', quiet: true, size: 300 });
try {
  const tokens = await sb.oauthApp.install();
  const results = await replayAll(
    { webhookUrl: sb.webhookUrl, baseUrl: sb.baseUrl, accessToken: tokens.access_token },
    loadCases(),
  );
  process.stdout.write(familyTable(results) + '\n');
  if (process.argv.includes('--failures')) process.stdout.write('\n' + failures(results) + '\n');
} finally {
  await sb.close();
}
