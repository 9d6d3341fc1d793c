/**
 * The dependency direction of src/, enforced in `npm test` (`npm run deps`):
 *
 *   lib → generated → catalog → bitrix → pipeline → {triggers, agent} → store → adapters → cli
 *
 * A module may import its own layer and the layers to its left, never one to its right; triggers and agent are
 * peers that do not import each other. The sandbox portal (src/sandbox) is reached only from src/cli (and from
 * tests and benches, which are outside src/); it may use lib and generated only.
 */
// store: the durable store (SQLite / PostgreSQL) implements the storage interfaces the layers before it declare
const layers = ['lib', 'generated', 'catalog', 'bitrix', 'pipeline', 'triggers|agent', 'store', 'adapters', 'cli'];

const forbidden = layers.slice(0, -1).map((layer, i) => {
  const later = layers.slice(i + 1).join('|');
  return {
    name: `${layer.replace('|', '-')}-imports-later-layer`,
    comment: `src/${layer} may not import a later layer (${later}); dependencies point lib → … → cli`,
    severity: 'error',
    from: { path: `^src/(${layer})/` },
    to: { path: `^src/(${later})/` },
  };
});

module.exports = {
  forbidden: [
    ...forbidden.filter((r) => !r.name.startsWith('triggers-agent')),
    {
      name: 'triggers-imports-later-layer',
      comment: 'src/triggers may import lib, generated, catalog, bitrix and pipeline only (not agent, store, adapters, cli)',
      severity: 'error',
      from: { path: '^src/triggers/' },
      to: { path: '^src/(agent|store|adapters|cli)/' },
    },
    {
      name: 'agent-imports-later-layer',
      comment: 'src/agent may import lib, generated, catalog, bitrix and pipeline only (not triggers, store, adapters, cli)',
      severity: 'error',
      from: { path: '^src/agent/' },
      to: { path: '^src/(triggers|store|adapters|cli)/' },
    },
    {
      name: 'sandbox-only-from-cli',
      comment: 'the sandbox portal is started by the composition root (src/cli), tests and benches only',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|sandbox)/' },
      to: { path: '^src/sandbox/' },
    },
    {
      name: 'sandbox-stands-alone',
      comment: 'the sandbox emulates the portal on its own: it may use src/lib and src/generated only',
      severity: 'error',
      from: { path: '^src/sandbox/' },
      to: { path: '^src/(catalog|bitrix|pipeline|triggers|agent|store|adapters|cli)/' },
    },
    {
      name: 'no-circular',
      comment: 'import cycles hide the order in which modules start (type-only imports aside)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'every import resolves (a computed import() specifier is not allowed in src/)',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
