/** The rule list, in reporting order. One rule per file; add a rule by adding a file and a line here. */
import type { Rule } from '../rule.js';
import { appAuthWebhook } from './appAuthWebhook.js';
import { approversMissing } from './approversMissing.js';
import { batchCommand } from './batchCommand.js';
import { checksBeforeWrites } from './checksBeforeWrites.js';
import { costBudget } from './costBudget.js';
import { cycle } from './cycle.js';
import { deprecatedMethod } from './deprecatedMethod.js';
import { destructiveUnconfirmable } from './destructiveUnconfirmable.js';
import { duplicateStepId } from './duplicateStepId.js';
import { envAllowList } from './envAllowList.js';
import { expressionCost } from './expressionCost.js';
import { expressionTypes } from './expressionTypes.js';
import { foreachIdempotency } from './foreachIdempotency.js';
import { inputDefaults } from './inputDefaults.js';
import { methodOutsidePacks } from './methodOutsidePacks.js';
import { paramTypes } from './paramTypes.js';
import { partialInterpolation } from './partialInterpolation.js';
import { readAfterWrite } from './readAfterWrite.js';
import { referenceRiskRule } from './referenceRisk.js';
import { requiredParams } from './requiredParams.js';
import { scopes } from './scopes.js';
import { triggerSyntax } from './triggerSyntax.js';
import { unknownMethod } from './unknownMethod.js';
import { unknownStepRef } from './unknownStepRef.js';
import { useTarget } from './useTarget.js';

export const rules: Rule[] = [
  duplicateStepId,
  unknownStepRef,
  cycle,
  unknownMethod,
  deprecatedMethod,
  methodOutsidePacks,
  referenceRiskRule,
  requiredParams,
  paramTypes,
  expressionTypes,
  expressionCost,
  partialInterpolation,
  batchCommand,
  appAuthWebhook,
  scopes,
  foreachIdempotency,
  destructiveUnconfirmable,
  approversMissing,
  envAllowList,
  inputDefaults,
  useTarget,
  checksBeforeWrites,
  readAfterWrite,
  triggerSyntax,
  costBudget,
];
