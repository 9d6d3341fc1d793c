/**
 * Who people are on the portal, for approvals: users (name, departments, active), department heads, and whether a
 * user may edit a record. Read through the pipeline client and cached (10 min by default).
 *
 * Edit rights follow Bitrix24's standard CRM roles, as far as an integration can see them: a record's owner
 * (ASSIGNED_BY_ID) edits it; the head (UF_HEAD) of a department the owner belongs to, or of one above it, edits it; a portal
 * administrator edits everything — the admin flag is only visible for the user the webhook or app acts as
 * (`user.current`, then `user.access` with `G1`, the administrators group), since REST offers no call that reads
 * another user's rights. Sources: api-reference/user/user-get.html, api-reference/user/user-current.html,
 * api-reference/user/user-access.html, api-reference/departments/department-get.html.
 */
import type { PipelineClient } from '../client.js';

/** A portal user as approvals need it. */
export interface PortalUser {
  id: string;
  /** "NAME LAST_NAME", else the e-mail, else `user #id`. */
  name: string;
  departments: string[];
  active: boolean;
}

/** Users, department heads and edit rights on one portal (see module doc). */
export class PortalDirectory {
  private readonly cache = new Map<string, { at: number; value: Promise<unknown> }>();

  /** @param ttlMs how long an answer is reused, ms (default 10 min) */
  constructor(
    private readonly client: PipelineClient,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  private cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.value as Promise<T>;
    const value = load();
    this.cache.set(key, { at: Date.now(), value });
    value.catch(() => this.cache.delete(key));
    return value;
  }

  /** The user with this id, or undefined when the portal has none. */
  user(id: string): Promise<PortalUser | undefined> {
    return this.cached(`user:${id}`, async () => {
      const r = await this.client.call<unknown[]>('user.get', { ID: id });
      const u = (Array.isArray(r.result) ? r.result[0] : undefined) as Record<string, unknown> | undefined;
      if (!u) return undefined;
      const name = [u.NAME, u.LAST_NAME].filter((x) => typeof x === 'string' && x).join(' ');
      const dept = Array.isArray(u.UF_DEPARTMENT) ? u.UF_DEPARTMENT.map(String) : [];
      return {
        id: String(u.ID ?? id),
        name: name || (typeof u.EMAIL === 'string' && u.EMAIL) || `user #${id}`,
        departments: dept,
        active: u.ACTIVE !== false && u.ACTIVE !== 'N',
      };
    });
  }

  /** The name of a user for messages (`user #id` when unknown). */
  async nameOf(id: string): Promise<string> {
    return (await this.user(id).catch(() => undefined))?.name ?? `user #${id}`;
  }

  /** A department's head (UF_HEAD) and parent (PARENT), or undefined when the portal has no such department. */
  private department(id: string): Promise<{ head?: string; parent?: string } | undefined> {
    return this.cached(`dept:${id}`, async () => {
      const r = await this.client.call<unknown[]>('department.get', { ID: id });
      const row = (Array.isArray(r.result) ? r.result[0] : undefined) as Record<string, unknown> | undefined;
      if (!row) return undefined;
      const some = (v: unknown) =>
        v !== undefined && v !== null && String(v) !== '' && String(v) !== '0' ? String(v) : undefined;
      const head = some(row.UF_HEAD);
      const parent = some(row.PARENT);
      return { ...(head ? { head } : {}), ...(parent ? { parent } : {}) };
    });
  }

  /** The heads (UF_HEAD) of these departments, deduplicated; departments without a head add none. */
  async headsOf(departments: readonly string[]): Promise<string[]> {
    const heads = await Promise.all(departments.map(async (d) => (await this.department(d))?.head));
    return [...new Set(heads.filter((h): h is string => !!h))];
  }

  /**
   * The heads of these departments and of every department above them (PARENT chain, at most 20 levels): the people
   * Bitrix24's "department and subdepartments" access level lets edit a record of someone in them.
   */
  async headsAbove(departments: readonly string[]): Promise<string[]> {
    const out = new Set<string>();
    for (const start of departments) {
      let id: string | undefined = start;
      for (let depth = 0; id && depth < 20; depth++) {
        const d: { head?: string; parent?: string } | undefined = await this.department(id);
        if (d?.head) out.add(d.head);
        id = d?.parent;
      }
    }
    return [...out];
  }

  /** True when `userId` is the user the integration acts as and that user is a portal administrator. */
  isAdmin(userId: string): Promise<boolean> {
    return this.cached(`admin:${userId}`, async () => {
      const cur = await this.client.call<Record<string, unknown>>('user.current', {});
      if (String(cur.result?.ID ?? '') !== userId) return false;
      const a = await this.client.call<boolean>('user.access', { ACCESS: ['G1'] });
      return a.result === true;
    });
  }

  /**
   * True when `userId` may edit a record owned by `owner` (see module doc); a record without a known owner is
   * editable by every approver the pipeline names.
   */
  async mayEdit(userId: string, owner: string | undefined): Promise<boolean> {
    if (owner === undefined || owner === userId) return true;
    const o = await this.user(owner);
    if (o && (await this.headsAbove(o.departments)).includes(userId)) return true;
    return this.isAdmin(userId);
  }
}
