// `vantage-selector agents add|remove ID --config FILE`: enrol and remove agents.
// While the selector runs they go through its admin API, so the change applies at
// once (a removed agent is disconnected and forgotten); with the selector stopped
// they are written to the database of --config (changeVia).
import type { Command } from 'commander';
import { ArgumentError, ExitCode } from '../../shared/errors.js';
import { AGENT_ID_RE } from '../../shared/protocol.js';
import { BROKER_KINDS, brokerEntry, type BrokerKind } from '../mqtt/broker-entries.js';
import { addTargetOptions, changeVia, type TargetOptions } from './admin-client.js';
import { CommandExit } from './context.js';
import { fileChanges } from './file-changes.js';

function checkId(id: string): string {
  if (!AGENT_ID_RE.test(id)) throw new ArgumentError(`agent id "${id}" must match [a-z0-9][a-z0-9-]{0,62}`);
  return id;
}

export function registerAgents(program: Command): void {
  const agents = program.command('agents').description('enrol and remove measurement agents');
  addTargetOptions(agents.command('add')
    .description('create credentials for an agent; the password is printed once')
    .argument('<id>', 'agent id ([a-z0-9][a-z0-9-]{0,62})'))
    .option('--broker <kind>', `also print the external broker's entry for the agent: ${BROKER_KINDS.join(' | ')}`)
    .action(async (id: string, opts: TargetOptions & { broker?: string }) => {
      checkId(id);
      if (opts.broker !== undefined && !(BROKER_KINDS as readonly string[]).includes(opts.broker)) {
        throw new ArgumentError(`--broker: expected ${BROKER_KINDS.join(' or ')}, got "${opts.broker}"`);
      }
      const out = await changeVia(opts,
        (c) => c.request<{ id: string; password: string }>('POST', 'api/agents', { id }),
        (store) => fileChanges.addAgent(store, id));
      const broker = opts.broker ? brokerEntry(opts.broker as BrokerKind, id, out.password) : undefined;
      if (opts.json) process.stdout.write(`${JSON.stringify(broker ? { id: out.id, password: out.password, broker } : { id: out.id, password: out.password })}\n`);
      else {
        process.stdout.write(`agent ${id} enrolled\nusername: ${id}\npassword: ${out.password}\n(shown once; put it in the agent's mqtt.password)\n`);
        if (broker) process.stdout.write(`${broker.kind} entry (${broker.hint}):\n${broker.entry}\n`);
      }
    });
  addTargetOptions(agents.command('remove')
    .description("delete an agent's credentials and prefixes; a running selector also disconnects it and forgets its measurements")
    .argument('<id>', 'agent id'))
    .action(async (id: string, opts: TargetOptions) => {
      checkId(id);
      const out = await changeVia(opts,
        (c) => c.request<{ id: string; removed: boolean }>('DELETE', `api/agents/${encodeURIComponent(id)}`),
        (store) => fileChanges.removeAgent(store, id));
      if (opts.json) process.stdout.write(`${JSON.stringify({ id, removed: out.removed })}\n`);
      else if (!out.removed) throw new CommandExit(ExitCode.FAILURE, `agent ${id} is not enrolled`, { code: 'ADMIN_ERR_NOT_FOUND' });
      else process.stdout.write(`agent ${id} removed\n`);
    });
}
