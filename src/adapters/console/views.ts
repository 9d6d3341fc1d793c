/**
 * The console's pages as HTML fragments: overview, a pipeline (its compiled graph by levels, triggers, next times),
 * runs, a run (step timeline with durations, requests, retries, items; writes; errors; live while running),
 * approval requests (the writes in words, decisions, Approve / Reject forms), dead letters and portal health.
 */
import type { RunRecord, StepRecord, StoredApproval, WriteEntry } from '../../pipeline/index.js';
import { html, type Raw } from './html.js';

/** A pipeline as the console shows it (built by the composition root from the loaded pipelines). */
export interface ConsolePipeline {
  name: string;
  file: string;
  description?: string;
  /** Triggers in words (`schedule 0 9 * * 1 (Europe/Moscow), approve: ask`). */
  triggers: string[];
  /** Next schedule times, ISO. */
  next: string[];
  /** Compiled steps: id, method, the steps it depends on. */
  steps: { id: string; method?: string; risk?: string; deps: string[] }[];
}

const status = (s: string) => html`<span class="status-${s}">${s}</span>`;
const when = (iso?: string) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

/** The overview: pipelines with their next times and last run, pending approvals, dead letters. */
export function overview(ps: ConsolePipeline[], last: Map<string, RunRecord>, pending: number, dlq: number): Raw {
  return html`<p><a href="/console/approvals">${pending} approval request(s) pending</a> ·
<a href="/console/dlq">${dlq} dead letter(s)</a></p>
<table><tr><th>Pipeline</th><th>Triggers</th><th>Next</th><th>Last run</th></tr>
${ps.map((p) => {
  const r = last.get(p.name);
  return html`<tr><td><a href="/console/pipelines/${encodeURIComponent(p.name)}">${p.name}</a></td>
<td>${p.triggers.join('; ')}</td><td>${p.next.map(when).join(', ')}</td>
<td>${r ? html`<a href="/console/runs/${r.runId}">${r.runId}</a> ${status(r.status)}` : '—'}</td></tr>`;
})}</table>`;
}

/** Levels of a step graph: each step one level below its deepest dependency. */
function levels(steps: ConsolePipeline['steps']): ConsolePipeline['steps'][] {
  const depth = new Map<string, number>();
  const byId = new Map(steps.map((s) => [s.id, s]));
  const d = (id: string, seen = new Set<string>()): number => {
    if (depth.has(id)) return depth.get(id)!;
    if (seen.has(id)) return 0;
    seen.add(id);
    const deps = byId.get(id)?.deps.filter((x) => byId.has(x)) ?? [];
    const v = deps.length ? 1 + Math.max(...deps.map((x) => d(x, seen))) : 0;
    depth.set(id, v);
    return v;
  };
  const out: ConsolePipeline['steps'][] = [];
  for (const s of steps) {
    const level = d(s.id);
    out[level] = [...(out[level] ?? []), s];
  }
  return out.filter(Boolean);
}

/** A pipeline: description, triggers, next times, the compiled graph by levels, its last runs. */
export function pipelineView(p: ConsolePipeline, runs: RunRecord[]): Raw {
  return html`<p>${p.description ?? ''}</p><p><code>${p.file}</code></p>
<h2>Triggers</h2><ul>${p.triggers.map((t) => html`<li>${t}</li>`)}</ul>
${p.next.length ? html`<p>Next: ${p.next.map(when).join(', ')}</p>` : ''}
<h2>Steps</h2><div class="graph">${levels(p.steps).map(
    (lv) =>
      html`<div class="level">${lv.map(
        (s) =>
          html`<div class="node" id="step-${s.id}"><b>${s.id}</b><small>${s.method ?? ''}${s.risk && s.risk !== 'read' ? ` · ${s.risk}` : ''}</small>${s.deps.length ? html`<small>after ${s.deps.join(', ')}</small>` : ''}</div>`,
      )}</div>`,
  )}</div>
<h2>Last runs</h2>${runList(runs)}`;
}

/** A table of runs. */
export function runList(runs: RunRecord[]): Raw {
  return html`<table><tr><th>Run</th><th>Pipeline</th><th>Trigger</th><th>Status</th><th>Started</th></tr>
${runs.map(
  (r) => html`<tr><td><a href="/console/runs/${r.runId}">${r.runId}</a></td><td>${r.pipeline.name}</td>
<td>${String(r.trigger?.kind ?? 'cli')}</td><td>${status(r.status)}</td><td>${when(r.startedAt)}</td></tr>`,
)}</table>`;
}

function ms(s: StepRecord): [number, number] | undefined {
  const a = Date.parse(s.startedAt ?? '');
  const b = Date.parse(s.finishedAt ?? '');
  return Number.isFinite(a) ? [a, Number.isFinite(b) ? b : Date.now()] : undefined;
}

/**
 * The step timeline of a run: one row per step with what it sent and got back, its status, items, requests and a bar placed at its
 * start and as long as it took; polls itself every 2 s while the run runs.
 */
export function timeline(run: RunRecord): Raw {
  const steps = Object.values(run.steps);
  const spans = steps.map(ms).filter((x): x is [number, number] => !!x);
  const t0 = spans.length ? Math.min(...spans.map((x) => x[0])) : 0;
  const t1 = spans.length ? Math.max(...spans.map((x) => x[1])) : 1;
  const total = Math.max(1, t1 - t0);
  const live = run.status === 'running';
  return html`<div id="timeline" ${live ? html`hx-get="/console/runs/${run.runId}/timeline" hx-trigger="every 2s" hx-swap="outerHTML"` : ''}>
<p>Status: ${status(run.status)}${run.finishedAt ? ` · finished ${when(run.finishedAt)}` : ''}</p>
<table class="timeline"><tr><th>Step</th><th>Status</th><th>Items</th><th>Requests</th><th>Time</th><th></th></tr>
${steps.map((s) => {
  const span = ms(s);
  const left = span ? ((span[0] - t0) / total) * 100 : 0;
  const width = span ? Math.max(0.5, ((span[1] - span[0]) / total) * 100) : 0;
  const skipped = s.existing ? ` (${s.existing} done before)` : '';
  return html`<tr class="step" data-step="${s.id}"><td>${s.id}<br><small>${s.request ?? s.method ?? ''}</small>${s.response ? html`<small>${s.response}</small>` : ''}</td><td>${status(s.status)}${s.reason ? html`<br><small>${s.reason}</small>` : ''}</td>
<td>${s.done}/${s.items}${skipped}${s.failed ? html` <span class="err">${s.failed} failed</span>` : ''}${s.uncertain ? html` <span class="err">${s.uncertain} uncertain</span>` : ''}</td><td>${s.requests}</td>
<td>${span ? `${span[1] - span[0]} ms` : ''}</td><td class="b"><div class="bar" style="margin-left:${left.toFixed(1)}%;width:${width.toFixed(1)}%"></div></td></tr>
${(s.errors ?? []).slice(0, 5).map((e) => html`<tr><td></td><td colspan="5" class="err">${e.code ?? ''} ${e.message}</td></tr>`)}`;
})}</table>${run.error ? html`<p class="err">${run.error}</p>` : ''}</div>`;
}

/** A run: what started it, who approved it, its timeline, writes and summary. */
export function runView(run: RunRecord, writes: WriteEntry[], plan?: { lines: string[] }): Raw {
  const t = run.trigger ?? {};
  const approvedBy = Array.isArray(t.approvedBy) ? (t.approvedBy as string[]) : [];
  return html`<p>Pipeline <a href="/console/pipelines/${encodeURIComponent(run.pipeline.name)}">${run.pipeline.name}</a> ·
${String(t.kind ?? 'cli')}${t.approval ? html` · request <a href="/console/approvals/${String(t.approval)}">${String(t.approval)}</a>` : ''}
${approvedBy.length ? ` · approved by ${approvedBy.map((u) => `#${u}`).join(', ')}` : ''} · mode ${run.mode} · started ${when(run.startedAt)}</p>
${timeline(run)}
${plan?.lines.length ? html`<h2>Planned changes</h2><ul>${plan.lines.map((l) => html`<li>${l}</li>`)}</ul>` : ''}
<h2>Writes</h2><table><tr><th>Key</th><th>Step</th><th>State</th><th>Result</th></tr>
${writes.map((w) => html`<tr><td>${w.key}</td><td>${w.step}</td><td>${status(w.state)}</td><td>${w.error ? html`<span class="err">${w.error}</span>` : JSON.stringify(w.result ?? null).slice(0, 200)}</td></tr>`)}</table>
${run.summary ? html`<h2>Summary</h2><ul>${run.summary.en.map((l) => html`<li>${l}</li>`)}</ul>` : ''}`;
}

/** The list of approval requests. */
export function approvalList(list: StoredApproval[]): Raw {
  return html`<table><tr><th>Request</th><th>Pipeline</th><th>State</th><th>Writes</th><th>Approvals</th><th>Expires</th></tr>
${list.map(
  (
    a,
  ) => html`<tr><td><a href="/console/approvals/${a.request.id}">${a.request.id}</a></td><td>${a.request.pipeline.name}</td>
<td>${status(a.state)}</td><td>${a.request.writes.length}${a.request.destructive ? ' ⚠' : ''}</td>
<td>${a.decisions.filter((d) => d.decision === 'approve').length}/${a.request.min}</td><td>${when(a.request.expiresAt)}</td></tr>`,
)}</table>`;
}

/** One request: its lines in words and, while pending, the decision forms. */
export function approvalView(a: StoredApproval, lines: string[], csrf: string, canDecide: boolean, note?: string): Raw {
  const q = a.request;
  const open = a.state === 'pending' && canDecide;
  return html`${note ? html`<p class="err" id="note">${note}</p>` : ''}
<p>State: ${status(a.state)}${a.appliedRun ? html` · run <a id="applied-run" href="/console/runs/${a.appliedRun}">${a.appliedRun}</a>` : ''}</p>
<pre id="lines">${lines.join('\n')}</pre>
${
  open
    ? html`<form method="post" action="/console/approvals/${q.id}/approve" class="inline"><input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="hash" value="${q.hash.slice(0, 16)}">
${q.destructive ? html`<label><input type="checkbox" name="confirm_destructive" value="1"> I confirm the deletions</label>` : ''}
<button id="approve">Approve</button></form>
<form method="post" action="/console/approvals/${q.id}/reject" class="inline"><input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="hash" value="${q.hash.slice(0, 16)}"><input name="reason" placeholder="reason"><button id="reject">Reject</button></form>`
    : a.state === 'pending'
      ? html`<p>Sign in as a Bitrix24 user (the bot's /console link or a key bound to a user) to decide.</p>`
      : ''
}`;
}

/** Dead letters: event, pipelines, attempts, error; replay and drop. */
export function dlqView(
  items: { id: string; event: string; error: string; attempts: number; pipelines: string[] }[],
  csrf: string,
): Raw {
  return html`<table><tr><th>Id</th><th>Event</th><th>Pipelines</th><th>Attempts</th><th>Error</th><th></th></tr>
${items.map(
  (
    d,
  ) => html`<tr><td><a href="/console/dlq/${d.id}">${d.id.slice(0, 12)}</a></td><td>${d.event}</td><td>${d.pipelines.join(', ')}</td>
<td>${d.attempts}</td><td class="err">${d.error}</td><td>
<form method="post" action="/console/dlq/${d.id}/replay" class="inline"><input type="hidden" name="csrf" value="${csrf}"><button>Replay</button></form>
<form method="post" action="/console/dlq/${d.id}/drop" class="inline"><input type="hidden" name="csrf" value="${csrf}"><button>Drop</button></form></td></tr>`,
)}</table>`;
}
