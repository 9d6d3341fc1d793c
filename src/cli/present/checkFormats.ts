/**
 * The machine formats of `b24flow check --format`: GitHub Actions workflow commands (annotations on the pull
 * request's diff) and SARIF 2.1.0 (GitHub code scanning, IDE viewers). Both carry the same findings as the text
 * format; the cost summary is text-only.
 *
 * Sources: https://docs.github.com/actions/reference/workflow-commands-for-github-actions#setting-an-error-message
 * and https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
 */
import type { Finding } from '../../lib/failures.js';

/** A rule as SARIF lists it: the checker's registry entries plus the built-in checks (schema, yaml, load...). */
export interface RuleInfo {
  name: string;
  description: string;
}

/** Checks that are not registry rules but name findings (loading, schema validation, inputs). */
const BUILT_IN: RuleInfo[] = [
  { name: 'yaml', description: 'the file is not valid YAML' },
  { name: 'load', description: 'the file cannot be read or loaded' },
  { name: 'schema', description: 'the pipeline does not match schemas/pipeline.schema.json' },
  { name: 'input', description: 'an input value does not match its declaration' },
];

/** Escapes data of a workflow command (`%`, CR, LF); properties also escape `:` and `,`. */
function escapeData(s: string): string {
  return s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}
function escapeProperty(s: string): string {
  return escapeData(s).replaceAll(':', '%3A').replaceAll(',', '%2C');
}

/**
 * One workflow command per finding: `::error file=…,line=…,col=…,title=<rule>::message` (`warning`, `notice` for
 * warnings and infos).
 */
export function formatGithub(findings: Finding[]): string {
  return findings
    .map((f) => {
      const kind = f.severity === 'error' ? 'error' : f.severity === 'warning' ? 'warning' : 'notice';
      const props = `file=${escapeProperty(f.file)},line=${f.line},col=${f.col},title=${escapeProperty(f.rule)}`;
      const field = f.field ? ` (field ${f.field})` : '';
      return `::${kind} ${props}::${escapeData(`${f.message}${field}`)}\n`;
    })
    .join('');
}

/** The SARIF 2.1.0 log of one `check` invocation (one run). */
export function formatSarif(findings: Finding[], rules: RuleInfo[], tool: { version: string }): string {
  const known = [...rules, ...BUILT_IN];
  // a finding under a rule no list names still gets a rule entry: every result's ruleId is in tool.driver.rules
  for (const f of findings)
    if (!known.some((r) => r.name === f.rule)) known.push({ name: f.rule, description: f.rule });
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'b24flow',
            version: tool.version,
            rules: known.map((r) => ({ id: r.name, name: r.name, shortDescription: { text: r.description } })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.rule,
          ruleIndex: known.findIndex((r) => r.name === f.rule),
          level: f.severity === 'info' ? 'note' : f.severity,
          message: { text: f.field ? `${f.message} (field ${f.field})` : f.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.file.split('\\').join('/') },
                region: { startLine: Math.max(1, f.line), startColumn: Math.max(1, f.col) },
              },
            },
          ],
        })),
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
