import type { Rule } from '../rule.js';

/** Methods with `auth: app` need an OAuth application; a webhook gets WRONG_AUTH_TYPE from the portal. */
export const appAuthWebhook: Rule = {
  name: 'app-auth',
  description: 'app-only method while the portal is configured with a webhook',
  check(ctx) {
    if (ctx.portal?.auth !== 'webhook') return [];
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      const m = ctx.methodOf(s);
      if (m?.auth !== 'app') return [];
      return [
        ctx.at(
          ['steps', i, 'method'],
          `${m.name} works only with an application (OAuth) context; the portal is configured with a webhook (WRONG_AUTH_TYPE). Set B24_CLIENT_ID/B24_CLIENT_SECRET for a local app`,
        ),
      ];
    });
  },
};
