/**
 * Lazy, optional access to the method catalog (src/catalog): risk class, pack, scope and list metadata of a method.
 * The catalog's data is read on first use; when it is missing or fails to load, a name-based heuristic answers.
 */
import {
  type CatalogMethod,
  type EffectReason,
  effectiveRisk,
  type ListSemantics,
  loadCatalog,
} from '../catalog/index.js';

/** What the client needs to know about a method. */
export interface MethodInfo {
  risk: 'read' | 'write' | 'destructive';
  pack?: string;
  scope?: string;
  /** List metadata: wrapper key of the rows (`tasks`, `items`) and id field (`ID`, `id`). */
  list?: ListSemantics;
  /** Whether the catalog knows the method (false = heuristic answer). */
  known: boolean;
  /** Set when the call's params raise the method's risk (catalog `effects`: `event.offline.get` with `clear=1`). */
  because?: EffectReason;
  rest_v3?: boolean;
}

/** Looks a method up in the loaded catalog (case-insensitive). */
type Lookup = (name: string) => CatalogMethod | undefined;
let loading: Promise<Lookup | null> | null = null;

/** Loads the catalog once per process; resolves to null when it is unavailable. */
export function catalogLookup(): Promise<Lookup | null> {
  if (!loading) {
    loading = (async () => {
      try {
        const cat = loadCatalog();
        return (name: string) => cat.method(name);
      } catch {
        return null;
      }
    })();
  }
  return loading;
}

const READ_VERBS =
  /^(get|list|fields|current|search|info|count|time|getlist|filter|tail|aggregate|access|check|version|getfields|getdefault|status)$/i;
const DESTRUCTIVE_VERBS = /^(delete|remove|unbind|clear|drop|destroy|purge|erase|uninstall)$/i;
const READ_NAMES = new Set(['profile', 'scope', 'methods', 'events', 'server.time', 'app.info', 'method.get']);

/** Heuristic risk by name: the last dotted part decides (`crm.deal.list` read, `crm.deal.delete` destructive). */
export function heuristicRisk(method: string): MethodInfo['risk'] {
  const m = method.toLowerCase();
  if (READ_NAMES.has(m)) return 'read';
  const last = m.split('.').pop() ?? m;
  if (DESTRUCTIVE_VERBS.test(last)) return 'destructive';
  if (READ_VERBS.test(last) || /^get[a-z]/.test(last) || /^list[a-z]/.test(last)) return 'read';
  return 'write';
}

/** Heuristic pack: the CLI's packs are named after the first part of the method (`crm`, `tasks`, `im`). */
export function heuristicScope(method: string): string {
  return method.toLowerCase().split('.')[0] ?? method;
}

/** Params as an object for effects (a positional list or nothing: no param sent). */
function paramsObject(params: unknown): Record<string, unknown> | undefined {
  return params && typeof params === 'object' && !Array.isArray(params)
    ? (params as Record<string, unknown>)
    : undefined;
}

/**
 * Method info from the catalog, or by heuristic when the catalog is unavailable or does not know the method.
 *
 * @param params the call's params: the risk is the call's effective risk (catalog `effects`), not only the method's
 */
export async function methodInfo(method: string, params?: unknown): Promise<MethodInfo> {
  const lookup = await catalogLookup();
  const e = lookup?.(method);
  if (e && typeof e === 'object') {
    const eff = e.risk ? effectiveRisk(e, paramsObject(params)) : undefined;
    const info: MethodInfo = { risk: eff?.risk ?? heuristicRisk(method), known: true };
    if (eff?.because) info.because = eff.because;
    if (e.pack) info.pack = e.pack;
    if (e.scope) info.scope = e.scope;
    if (e.list) info.list = e.list;
    if (e.rest_v3) info.rest_v3 = true;
    return info;
  }
  return { risk: heuristicRisk(method), scope: heuristicScope(method), known: false };
}

/**
 * Synchronous risk of a call when the catalog was already loaded (hot path); falls back to the name heuristic.
 *
 * @param params the call's params, for the method's param-dependent `effects` (omit for the method's own risk)
 */
export function methodRiskSync(method: string, lookup: Lookup | null, params?: unknown): MethodInfo['risk'] {
  const e = lookup?.(method);
  if (e && typeof e === 'object' && e.risk) return effectiveRisk(e, paramsObject(params)).risk;
  return heuristicRisk(method);
}
