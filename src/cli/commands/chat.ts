import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/failures.js';
import { jsonText } from '../present/jsonOut.js';

/**
 * Registers `b24flow chat [--user ID] [--json] <message...>`: sends one message to the chat agent (the same one
 * the Telegram bot and the HTTP API use) and prints the reply. A plan is printed with its id; apply it with
 * `b24flow apply <plan-id> --confirm-write`.
 */
export function register(program: Command): void {
  program
    .command('chat')
    .description('Send one chat message to the planner and print the reply (plans are applied with `apply`)')
    .argument('<message...>', 'the message, e.g. "создай сделку для ООО Ромашка на 50 000 рублей"')
    .option('--user <id>', 'chat user id (state and logs are kept per user)')
    .option('--pipelines <dir>', 'directory of named pipelines', './pipelines')
    .option('--json', 'print the reply as JSON')
    .action(async (words: string[], o: { user?: string; pipelines: string; json?: boolean }) => {
      const message = words.join(' ').trim();
      if (!message) throw new InvalidInputError('the message is empty');
      const { userInfo } = await import('node:os');
      const user = o.user ?? userInfo().username;
      if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(user)) throw new InvalidInputError('--user: letters, digits, _ . @ - only');
      const { openChatRuntime } = await import('../chatRuntime.js');
      const rt = await openChatRuntime({
        pipelinesDir: o.pipelines,
        onError: (_u, d) => process.stderr.write(`chat: ${d.split('\n')[0]}\n`),
      });
      try {
        const reply = await rt.agent.handleText(`cli:${user}`, message);
        if (o.json) {
          process.stdout.write(
            jsonText({ kind: reply.kind, reply: reply.text, planId: reply.planId, plan: reply.plan, run: reply.run }),
          );
        } else {
          process.stdout.write(`${reply.text}\n`);
          if (reply.planId) {
            process.stdout.write(`\nplan ${reply.planId} — apply: b24flow apply ${reply.planId} --confirm-write\n`);
          }
        }
        if (reply.kind === 'error') process.exitCode = 1;
      } finally {
        await rt.close();
      }
    });
}
