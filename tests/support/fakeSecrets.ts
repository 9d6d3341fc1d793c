/**
 * Fixed fake secret values used by the tests (chat keys and tokens, planted values). The suite-wide secret scan
 * (tests/globalSetup.ts) looks for each of them, plus every secret the test processes registered for redaction.
 */
export const FIXED_TEST_SECRETS = [
  'sk-test-fakekey-0123456789abcdef',
  '123456789:AAFakeTokenForTestsOnly_abcdefghijklmnop',
  'api-token-0123456789abcdef',
  'other-token-xyz123',
  'my-very-secret-openai-key-value',
  'should-not-appear-000',
  'abcd1234efgh5678',
] as const;
