/** The static checker: `checkPipeline` (checker.ts), its rules (rules/, one per file) and `checkFiles` (files.ts). */
export { checkPipeline, hasErrors, rules } from './checker.js';
export type { CheckContext, PortalFacts, Rule, RuleContext } from './rule.js';
