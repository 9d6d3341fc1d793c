/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: pipeline expressions, not JS templates */
/**
 * The scripted model's answer to "when a lead comes in from the site, find a contact with the same phone and link
 * it": an event pipeline (ONCRMLEADADD, writes asked of user 1) that reads the lead, finds contacts by its phones
 * (crm.duplicate.findbycomm: a map of ids by entity, or an empty list) and sets the lead's CONTACT_ID when the lead
 * came from the site.
 */
export function leadLinkingProposal(): Record<string, unknown> {
  return {
    name: 'lead-contact-link',
    description: 'Links a new lead from the site to the contact with the same phone',
    triggers: [{ event: { events: ['ONCRMLEADADD'], approve: 'ask' } }],
    approvers: { users: [1] },
    steps: [
      { id: 'lead', method: 'crm.lead.get', params: { id: '${{ inputs.event.objectId }}' } },
      {
        id: 'same_phone',
        needs: ['lead'],
        method: 'crm.duplicate.findbycomm',
        params: { type: 'PHONE', values: '${{ phones(steps.lead.result.PHONE) }}', entity_type: 'CONTACT' },
      },
      {
        id: 'link',
        needs: ['same_phone'],
        if: '${{ steps.lead.result.SOURCE_ID == "WEB" && size(steps.same_phone.result) > 0 }}',
        method: 'crm.lead.update',
        params: {
          id: '${{ int(steps.lead.result.ID) }}',
          fields: { CONTACT_ID: '${{ int(steps.same_phone.result.CONTACT[0]) }}' },
        },
      },
    ],
  };
}
