// `vantage-selector agents add|remove ID --config FILE`: enrol agents by writing the
// SQLite DB directly, so it works whether or not the daemon runs (WAL allows a
// second writer with a busy timeout); the daemon reads credentials at each connect.
import type { Command } from 'commander';
import { ArgumentError, ExitCode } from '../../shared/errors.js';
import { BROKER_KINDS, brokerEntry, type BrokerKind } from '../mqtt/broker-entries.js';
import { addAgent, removeAgent } from '../mqtt/credentials.js';
import { Store } from '../store/store.js';
import { CommandExit, loadConfig } from './context.js';

export function registerAgents(program: Command): void {
  const agents = program.command('agents').description('enrol and remove measurement agents');
  agents.command('add')
    .description('create credentials for an agent; the password is printed once')
    .argument('<id>', 'agent id ([a-z0-9][a-z0-9-]{0,62})')
    .requiredOption('-c, --config <file>', 'selector.yaml')
    .option('--json', 'print {"id","password"} (with --broker also "broker": {"kind","entry","hint"})')
    .option('--broker <kind>', `also print the external broker's entry for the agent: ${BROKER_KINDS.join(' | ')}`)
    .action(async (id: string, opts: { config: string; json?: boolean; broker?: string }) => {
      if (opts.broker !== undefined && !(BROKER_KINDS as readonly string[]).includes(opts.broker)) {
        throw new ArgumentError(`--broker: expected ${BROKER_KINDS.join(' or ')}, got "${opts.broker}"`);
      }
      const config = loadConfig(opts.config);
      const store = new Store(config.db);
      try {
        const password = await addAgent(store, id);
        const broker = opts.broker ? brokerEntry(opts.broker as BrokerKind, id, password) : undefined;
        if (opts.json) process.stdout.write(`${JSON.stringify(broker ? { id, password, broker } : { id, password })}\n`);
        else {
          process.stdout.write(`agent ${id} enrolled\nusername: ${id}\npassword: ${password}\n(shown once; put it in the agent's mqtt.password)\n`);
          if (broker) process.stdout.write(`${broker.kind} entry (${broker.hint}):\n${broker.entry}\n`);
        }
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
        else if (!removed) throw new CommandExit(ExitCode.FAILURE, `agent ${id} is not enrolled`);
        else process.stdout.write(`agent ${id} removed\n`);
      } finally {
        store.close();
      }
    });
}
