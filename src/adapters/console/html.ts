/**
 * HTML of the web console: a tagged template that escapes every interpolated value (`raw()` marks trusted markup),
 * and the page layout (navigation, the CSRF token for htmx requests, the stylesheet and htmx from the package).
 */

/** Markup that is inserted as is (built by {@link html} or {@link raw}). */
export class Raw {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Trusted markup, inserted without escaping. */
export function raw(text: string): Raw {
  return new Raw(text);
}

/** Escapes text for HTML content and attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function part(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === undefined || v === null || v === false) return '';
  return esc(v);
}

/** `html\`<p>${text}</p>\``: values are escaped, arrays joined, `Raw` and nested `html` kept. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += part(values[i]) + (strings[i + 1] ?? '');
  return new Raw(out);
}

/** The whole page: navigation, the signed-in user, a logout form, htmx sending the CSRF token. */
export function page(title: string, body: Raw, o: { csrf?: string; user?: string; refresh?: boolean } = {}): string {
  const nav = o.csrf
    ? html`<nav><a href="/console">b24flow</a> <a href="/console/runs">Runs</a> <a href="/console/approvals">Approvals</a>
<a href="/console/dlq">Dead letters</a> <a href="/console/health">Portal</a>
<span class="who">${o.user ? `Bitrix24 user #${o.user}` : 'read-only'}</span>
<form method="post" action="/console/logout" class="inline"><input type="hidden" name="csrf" value="${o.csrf}"><button>Sign out</button></form></nav>`
    : html``;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — b24flow</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
${o.csrf ? `<meta name="csrf-token" content="${esc(o.csrf)}">` : ''}
<link rel="stylesheet" href="/console/assets/console.css"><script src="/console/assets/htmx.js" defer></script>
</head><body>${nav}<main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

/** The console's stylesheet. */
export const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
nav{background:#1d2330;padding:.6em 1em;display:flex;gap:1em;align-items:center}nav a{color:#fff;text-decoration:none}
nav .who{margin-left:auto;color:#bcc4d4}main{padding:1em 2em;max-width:1100px}table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #e3e6eb;padding:.35em .5em;text-align:left;vertical-align:top}.inline{display:inline}
.status-completed,.status-applied{color:#137333}.status-failed,.status-rejected{color:#b3261e}.status-running,.status-pending,.status-applying,.status-awaiting_approval{color:#8a5a00}
.bar{background:#4f7bd9;height:.8em;border-radius:2px;min-width:2px}.timeline td.b{width:45%}.err{color:#b3261e}
.graph{display:flex;flex-direction:column;gap:.6em}.level{display:flex;gap:.6em;flex-wrap:wrap}.node{background:#fff;border:1px solid #9aa6bd;border-radius:6px;padding:.3em .6em}
.node small{display:block;color:#5b6478}button{cursor:pointer}pre{white-space:pre-wrap;background:#fff;padding:.6em;border:1px solid #e3e6eb}`;
