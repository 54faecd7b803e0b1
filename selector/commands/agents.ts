// `vantage-selector agents add|remove ID --config FILE`: enrol agents by writing the
// SQLite DB directly, so it works whether or not the daemon runs (WAL allows a
// second writer with a busy timeout); the daemon reads credentials at each connect.
import type { Command } from 'commander';
import { ExitCode } from '../../shared/errors.js';
import { addAgent, removeAgent } from '../mqtt/credentials.js';
import { Store } from '../store/store.js';
import { CommandExit, loadConfig } from './context.js';

export function registerAgents(program: Command): void {
  const agents = program.command('agents').description('enrol and remove measurement agents');
  agents.command('add')
    .description('create credentials for an agent; the password is printed once')
    .argument('<id>', 'agent id ([a-z0-9][a-z0-9-]{0,62})')
    .requiredOption('-c, --config <file>', 'selector.yaml')
    .option('--json', 'print {"id","password"}')
    .action(async (id: string, opts: { config: string; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const store = new Store(config.db);
      try {
        const password = await addAgent(store, id);
        if (opts.json) process.stdout.write(`${JSON.stringify({ id, password })}\n`);
        else process.stdout.write(`agent ${id} enrolled\nusername: ${id}\npassword: ${password}\n(shown once; put it in the agent's mqtt.password)\n`);
      } finally {
        store.close();
      }
    });
  agents.command('remove')
    .description("delete an agent's credentials and announced prefixes")
    .argument('<id>', 'agent id')
    .requiredOption('-c, --config <file>', 'selector.yaml')
    .option('--json', 'print {"id","removed"}')
    .action((id: string, opts: { config: string; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const store = new Store(config.db);
      try {
        const removed = removeAgent(store, id);
        if (opts.json) process.stdout.write(`${JSON.stringify({ id, removed })}\n`);
        else if (!removed) throw new CommandExit(ExitCode.FAILURE, `agent ${id} is not enrolled`, { code: 'ADMIN_ERR_NOT_FOUND' });
        else process.stdout.write(`agent ${id} removed\n`);
      } finally {
        store.close();
      }
    });
}
