/**
 * Errors shared by every part of b24flow that decide the CLI's exit code.
 *
 * Exit codes everywhere in the CLI: 0 ok, 1 runtime failure, 2 invalid input.
 */

/** A position in a source file: 1-based line and column. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** One finding about bad input: where it is, which field, what is wrong. */
export interface Finding {
  file: string;
  line: number;
  col: number;
  /** JSON-pointer-like path of the field, e.g. `/methods/3/risk`; empty for the whole document. */
  field: string;
  message: string;
  /** Rule or check that produced it, e.g. `schema`, `unknown-method`. */
  rule: string;
  severity: 'error' | 'warning' | 'info';
}

/** Formats a finding as `file:line:col: message [rule]` (actionlint style). */
export function formatFinding(f: Finding): string {
  const field = f.field ? ` (field ${f.field})` : '';
  return `${f.file}:${f.line}:${f.col}: ${f.severity === 'error' ? '' : `${f.severity}: `}${f.message}${field} [${f.rule}]`;
}

/** Bad input from the user (file, flag, parameter). The CLI exits with code 2. */
export class InvalidInputError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly findings: Finding[] = [],
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

/** A failure while doing valid work (network, portal, disk). The CLI exits with code 1. */
export class RuntimeFailure extends Error {
  readonly exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeFailure';
  }
}

/** Exit code for an error thrown out of a CLI command: 2 for invalid input, 1 otherwise. */
export function exitCodeOf(err: unknown): number {
  if (err && typeof err === 'object' && 'exitCode' in err && typeof err.exitCode === 'number') return err.exitCode;
  return 1;
}
