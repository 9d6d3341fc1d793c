/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline expressions, not JS templates */

/**
 * A planner proposal using the richer pipeline language: typed inputs, a schedule trigger asking approvers,
 * approvers, a list read over every page, a `foreach` write with expressions, `if`, a `$template` and an
 * idempotency key. Valid against `schemas/pipeline.schema.json` and the core pack of the project catalog.
 */
export function richProposal(name = 'stale-deals-weekly'): Record<string, unknown> {
  return {
    name,
    inputs: { days: { type: 'int', default: 14 } },
    triggers: [{ schedule: { cron: '0 9 * * 1', timezone: 'Europe/Moscow', approve: 'ask' } }],
    approvers: { users: [1] },
    steps: [
      {
        id: 'deals',
        method: 'crm.deal.list',
        all: true,
        params: {
          filter: { '<DATE_MODIFY': '${{ isoDateTime(daysAgo(inputs.days)) }}', CLOSED: 'N' },
          select: ['ID', 'TITLE', 'ASSIGNED_BY_ID'],
        },
      },
      {
        id: 'comments',
        needs: ['deals'],
        foreach: '${{ steps.deals.result }}',
        if: '${{ size(steps.deals.result) > 0 }}',
        method: 'crm.timeline.comment.add',
        idempotency_key: '${{ "stale-" + string(item.ID) + "-" + isoDate(now) }}',
        params: {
          fields: {
            ENTITY_ID: '${{ item.ID }}',
            ENTITY_TYPE: 'deal',
            COMMENT: { $template: 'No changes for {{ inputs.days }}+ days: «{{ item.TITLE }}»' },
          },
        },
      },
    ],
  };
}
