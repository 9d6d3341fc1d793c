/**
 * How the CLI reports an error that ends a command, on stderr: `b24flow: message` (red on a terminal) or the
 * findings of an invalid input one per line; under `--json`, one JSON object `{"error": {"code", "message",
 * "findings"?}}` so that scripts parse failures the same way as results. Codes: `USAGE` (bad flags or arguments,
 * exit 2), `INVALID_INPUT` (bad files or params, exit 2), the portal's error code when it gave one
 * (`QUERY_LIMIT_EXCEEDED`...), else `FAILED` (exit 1).
 */
import { exitCodeOf, type Finding, formatFinding, InvalidInputError } from '../../lib/failures.js';
import { redact } from '../../lib/redact.js';
import { colorsFor } from './colors.js';
import { jsonText } from './jsonOut.js';

/** Whether the command line asks for JSON output (`--json` or `--format json` before a `--`). */
export function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  const args = end < 0 ? argv : argv.slice(0, end);
  return args.some((a, i) => a === '--json' || a === '--format=json' || (a === '--format' && args[i + 1] === 'json'));
}

/** Writes a usage error (from commander: unknown option, missing argument...) under `--json`. */
export function reportUsageError(message: string): void {
  const text = message.replace(/^error:\s*/, '').trim();
  process.stderr.write(jsonText({ error: { code: 'USAGE', message: redact(text) } }, 0));
}

/** Writes `err` to stderr as text or JSON and returns the exit code (2 invalid input, 1 otherwise). */
export function reportError(err: unknown, json: boolean): number {
  const code = exitCodeOf(err);
  const message = redact(err instanceof Error ? err.message : String(err));
  const findings: Finding[] = err instanceof InvalidInputError ? err.findings : [];
  if (json) {
    const own = (err as { code?: unknown } | null)?.code;
    const name = typeof own === 'string' && own ? own : code === 2 ? 'INVALID_INPUT' : 'FAILED';
    const shown = findings.map((f) => ({ ...f, message: redact(f.message) }));
    process.stderr.write(jsonText({ error: { code: name, message, ...(shown.length ? { findings: shown } : {}) } }, 0));
    return code;
  }
  const c = colorsFor(process.stderr);
  if (findings.length)
    for (const f of findings) {
      const line = redact(formatFinding(f));
      process.stderr.write(
        `${f.severity === 'error' ? c.red(line) : f.severity === 'warning' ? c.yellow(line) : line}\n`,
      );
    }
  else process.stderr.write(`${c.red(`b24flow: ${message}`)}\n`);
  return code;
}
