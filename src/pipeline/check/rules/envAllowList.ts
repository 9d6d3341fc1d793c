import type { Rule } from '../rule.js';

const SECRET = /(TOKEN|SECRET|KEY|PASSWORD|PASSWD|WEBHOOK|CREDENTIAL|AUTH)/;

/** `env:` names readable by expressions never include secrets (they could end up in a CRM field or a plan). */
export const envAllowList: Rule = {
  name: 'env-secret',
  description: 'secret-looking variable in the env allow-list',
  check(ctx) {
    return (ctx.p.pipeline.env ?? []).flatMap((name, i) =>
      SECRET.test(name)
        ? [ctx.at(['env', i], `env variable "${name}" looks like a secret; expressions may not read it`)]
        : [],
    );
  },
};
