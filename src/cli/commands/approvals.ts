import type { Command } from 'commander';

/**
 * Registers `b24flow approvals list|show|approve|reject`: the approval requests of runs that wait for a person
 * (src/pipeline/approvals). Deciding names the Bitrix24 user one decides as (`--as <id>`): the same rules as in
 * Telegram apply (approvers only, no self-approval, edit rights on the touched records, a second confirmation for
 * deletions); whoever runs the CLI has the store, so the command line is an operator's tool.
 */
export function register(program: Command): void {
  const ap = program.command('approvals').description('List, inspect and decide approval requests');
  ap.command('list')
    .description('List approval requests (pending first by default)')
    .option('--all', 'every state, not only pending ones')
    .option('--json', 'machine output')
    .action(async (o: { all?: boolean; json?: boolean }) => {
      const { approvalsList } = await import('../present/approvals.js');
      await approvalsList(o);
    });
  ap.command('show <id>')
    .description('Show one request: its writes in plain words, approvers, decisions and outcome')
    .option('--json', 'machine output')
    .action(async (id: string, o: { json?: boolean }) => {
      const { approvalsShow } = await import('../present/approvals.js');
      await approvalsShow(id, o);
    });
  ap.command('approve <id>')
    .description('Approve a request as a Bitrix24 user; applied once it has its approvals')
    .requiredOption('--as <bitrix-user-id>', 'the Bitrix24 user who approves')
    .option('--hash <prefix>', 'the request hash you reviewed (refused when the request changed)')
    .option('--confirm-destructive', 'the second, explicit confirmation of a request that deletes data')
    .option('--json', 'machine output')
    .action(async (id: string, o: { as: string; hash?: string; confirmDestructive?: boolean; json?: boolean }) => {
      const { approvalsDecide } = await import('../present/approvals.js');
      await approvalsDecide('approve', id, o);
    });
  ap.command('reject <id>')
    .description('Reject a request as a Bitrix24 user (nothing is written)')
    .requiredOption('--as <bitrix-user-id>', 'the Bitrix24 user who rejects')
    .option('--reason <text>', 'why (shown to the others and kept with the request)')
    .option('--json', 'machine output')
    .action(async (id: string, o: { as: string; reason?: string; json?: boolean }) => {
      const { approvalsDecide } = await import('../present/approvals.js');
      await approvalsDecide('reject', id, o);
    });
}
