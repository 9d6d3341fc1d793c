/**
 * The default pipeline runner of the trigger service: a {@link RunRequest} (event, schedule or job) becomes a
 * `runPipeline` call of src/pipeline, or an approval request when the pipeline declares `approvers:` and its trigger
 * does not pre-approve writes. A thrown error or a non-ok status is a failed outcome, never thrown.
 */
import { type ApprovalService, type LoadedPipeline, type RunOptions, runPipeline } from '../pipeline/index.js';
import type { PipelineRunner, RunRequest } from './dispatcher.js';
import type { StepTiming } from './metrics.js';

const OK_STATUSES = new Set([
  'succeeded',
  'success',
  'ok',
  'completed',
  'complete',
  'done',
  'skipped',
  'nothing-to-do',
  // the run stored its approval requests: the event or slot is handled (people decide from here)
  'awaiting_approval',
]);

/** True when a pipeline run status means "done, nothing to retry". */
function isOkStatus(status: string): boolean {
  return OK_STATUSES.has(status.toLowerCase());
}

/**
 * The default runner: `runPipeline(loaded, { client, inputs, mode: 'full', confirmWrite, trigger, signal })` from
 * src/pipeline. A thrown error or a non-ok status is a failed run (never thrown).
 *
 * A run whose trigger does not pre-approve writes (`approve: ask`, the default) of a pipeline that declares
 * `approvers:` asks them instead: it plans, stores its approval requests and ends `awaiting_approval` (ok: the
 * event or slot is handled; the approved writes run when people decide, src/pipeline/approvals).
 *
 * @param client the (loop-guarded) client the runs call through
 * @param defaults further `runPipeline` options the composition root chose (journal, language, …)
 * @param approvals the portal's approval service (absent: runs that need a person are refused as before)
 * @param steps told the steps of each finished run (the service's step duration histogram)
 */
export function pipelineRunner(
  client: RunOptions['client'],
  defaults: Omit<Partial<RunOptions>, 'client'> = {},
  approvals?: ApprovalService,
  steps?: (pipeline: string, steps: StepTiming[]) => void,
): PipelineRunner {
  return async (req: RunRequest) => {
    try {
      const loaded = req.pipeline.loaded as LoadedPipeline;
      if (approvals && !req.confirmWrite && loaded.pipeline.approvers) {
        const asked = await approvals.ask(loaded, { inputs: req.inputs, trigger: req.trigger });
        return { ok: true, status: asked.status, ...(asked.runId ? { runId: asked.runId } : {}) };
      }
      const r = await runPipeline(loaded, {
        ...defaults,
        client,
        inputs: req.inputs,
        mode: 'full',
        confirmWrite: req.confirmWrite,
        confirmDestructive: false,
        trigger: req.trigger,
        signal: req.signal,
      });
      steps?.(req.pipeline.name, r.steps);
      const ok = isOkStatus(String(r.status));
      const failure: unknown = r.error;
      const error = ok
        ? undefined
        : failure instanceof Error
          ? failure.message
          : typeof failure === 'string'
            ? failure
            : `run ${r.runId ?? ''} ended ${r.status}`;
      return { ok, status: String(r.status), ...(r.runId ? { runId: r.runId } : {}), ...(error ? { error } : {}) };
    } catch (err) {
      return { ok: false, status: 'failed', error: err instanceof Error ? err.message : String(err) };
    }
  };
}
