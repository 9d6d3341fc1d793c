/**
 * Redaction for the client side: re-exports the one mechanism of src/lib/redact.ts (pattern table, registered
 * secrets, {@link redact} / {@link redactDeep}) so client code and older imports keep `./redact.js`.
 */
export {
  isSecretKey,
  MASK,
  REDACTION_PATTERNS,
  redact,
  redactDeep,
  registerEnvSecrets,
  registeredSecretCount,
  registeredSecrets,
  registerSecret,
  registerSecrets,
} from '../lib/redact.js';
