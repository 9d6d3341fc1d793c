/**
 * The verb rule table that classifies *reference* catalog entries (methods nobody has curated yet).
 *
 * Curated pack entries never use it: their risk is decided by a person from what the method does
 * (`risk_source: curated`). The rule reads the meaning of the action segment, not only its last word:
 * camelCase and run-together verbs are split (`kanban.deleteTask`, `folder.deletetree`), and an unknown
 * verb is never a read — it classifies as `write`, the safe side.
 */
export type RiskClass = 'read' | 'write' | 'destructive';

/** Verbs that remove data, detach configuration or stop running work. Order does not matter. */
export const DESTRUCTIVE_VERBS: readonly string[] = [
  'delete',
  'remove',
  'unbind',
  'unregister',
  'uninstall',
  'clear',
  'kill',
  'terminate',
  'erase',
  'purge',
  'destroy',
  'drop',
  'revoke',
  'markdeleted',
  'unlink',
  'unset',
  'truncate',
];

/**
 * Verbs that only read. Anything else (add, update, set, start, open, upload, send, ...) is a write. Not here on
 * purpose: `read` (in Bitrix24 method names it means "mark as read": im.dialog.read, im.notify.read) and `show`
 * ("make visible" / "display to a user": landing.landing.showblock, telephony.externalCall.show).
 */
export const READ_VERBS: readonly string[] = [
  'get',
  'list',
  'fields',
  'search',
  'find',
  'count',
  'tail',
  'status',
  'info',
  'check',
  'current',
  'text',
  'manifest',
  'version',
  'access',
  'name',
  'is',
  'has',
  'select',
  'load',
  'export',
  'statistics',
  'stat',
  'history',
  'counters',
  'types',
  'entities',
  'settings',
  'describe',
  'query',
  'preview',
  'methods',
  'events',
  'scope',
  'time',
];

/** Result of classifying one method name. */
export interface HeuristicRisk {
  risk: RiskClass;
  /** The verb that decided, e.g. `delete` for `tasks.api.scrum.kanban.deleteTask`; `*` for the default. */
  verb: string;
}

/**
 * Classifies a method by the meaning of its action segment (the last dot segment, or the only one).
 *
 * @param name method name in any case, e.g. `disk.folder.deleteTree`
 * @returns risk class and deciding verb; unknown verbs give `write`
 */
export function classifyByVerb(name: string): HeuristicRisk {
  const segs = name.split('.');
  const action = (segs[segs.length - 1] ?? '').toLowerCase();
  // Bare diagnostic methods (`methods`, `scope`, `events`) and `server.time` are reads.
  for (const v of DESTRUCTIVE_VERBS) if (action.startsWith(v)) return { risk: 'destructive', verb: v };
  for (const v of READ_VERBS) if (action === v || action.startsWith(v)) return { risk: 'read', verb: v };
  return { risk: 'write', verb: '*' };
}
