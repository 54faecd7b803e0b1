// `vantage-selector lbs list|add|remove` on a backbone: the LBs' state, map, data age and
// push sequence (admin API), and LB credentials for the backbone's broker (written to the
// SQLite DB directly, like `agents add`, so it works whether or not the daemon runs).
import type { Command } from 'commander';
import { ExitCode } from '../../shared/errors.js';
import { addLb, removeLb } from '../backbone/credentials.js';
import type { BackboneChain, LbRow } from '../backbone/view.js';
import { Store } from '../store/store.js';
import { addTargetOptions, adminClient, printJson, type TargetOptions } from './admin-client.js';
import { CommandExit, loadConfig } from './context.js';
import { age, table } from './format.js';

export function registerLbs(program: Command): void {
  const lbs = program.command('lbs').description('LBs reporting to this backbone (federation)');
  addTargetOptions(lbs.command('list').description('each LB: state, label, name servers, prefixes, data age, push sequence, answers'))
    .action(async (opts: TargetOptions) => {
      const list = await adminClient(opts).get<LbRow[]>('api/lbs');
      if (opts.json) return printJson(list);
      process.stdout.write(table(['LB', 'LABEL', 'STATE', 'PUSH', 'SEQ', 'MAP AGE', 'DATA AGE', 'AGENTS', 'NAMESERVERS', 'PREFIXES', 'RESOLVERS', 'ANSWERS P/R/C/F'], list.map((l) => [
        l.id, l.label, l.state, l.pushFresh ? 'fresh' : l.seq === null ? '–' : 'stale', l.seq === null ? '–' : String(l.seq),
        age(l.mapAgeS), age(l.rankingsAgeS), String(l.agents),
        l.nameservers.map((n) => `${n.name}=${n.address}`).join(',') || '–', l.prefixes.join(',') || '–', l.resolvers.join(',') || '–',
        `${l.answers.push}/${l.answers.refer}/${l.answers.child}/${l.answers.fallback}`,
      ])));
    });
  lbs.command('add')
    .description("create credentials for an LB (it logs in as lb.ID); the password is printed once")
    .argument('<id>', 'lb id ([a-z0-9][a-z0-9-]{0,62})')
    .requiredOption('-c, --config <file>', 'selector.yaml of the backbone')
    .option('--json', 'print {"id","username","password"}')
    .action(async (id: string, opts: { config: string; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const store = new Store(config.db);
      try {
        const password = await addLb(store, id);
        if (opts.json) process.stdout.write(`${JSON.stringify({ id, username: `lb.${id}`, password })}\n`);
        else process.stdout.write(`lb ${id} enrolled\nusername: lb.${id}\npassword: ${password}\n(shown once; put it in the LB's uplink.password)\n`);
      } finally {
        store.close();
      }
    });
  lbs.command('remove')
    .description("delete an LB's credentials")
    .argument('<id>', 'lb id')
    .requiredOption('-c, --config <file>', 'selector.yaml of the backbone')
    .option('--json', 'print {"id","removed"}')
    .action((id: string, opts: { config: string; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const store = new Store(config.db);
      try {
        const removed = removeLb(store, id);
        if (opts.json) process.stdout.write(`${JSON.stringify({ id, removed })}\n`);
        else if (!removed) throw new CommandExit(ExitCode.FAILURE, `lb ${id} is not enrolled`);
        else process.stdout.write(`lb ${id} removed\n`);
      } finally {
        store.close();
      }
    });
}

/** `explain` on a backbone: client → LB → answer, or the referral. */
export function renderChain(c: BackboneChain): string[] {
  const out = [`backbone: ${c.mode}${c.lb ? ` — client → lb ${c.lb} (via ${c.via}${c.prefix ? ` ${c.prefix}` : ''}; ${c.lbState})` : ' — client → no LB'}`];
  out.push(`reason: ${c.reason}`);
  if (c.agent) out.push(`lb agent: ${c.agent}`);
  if (c.referral && c.mode === 'child-referral') {
    out.push(`referral: ${c.referral.cname} NS ${c.referral.nameservers.map((n) => `${n.name} (${n.address})`).join(', ')} (ttl ${c.referral.delegationTtl}s)`);
  } else if (c.referral) {
    out.push(`answer: CNAME ${c.referral.cname} (ttl ${c.referral.ttl}s)`);
    out.push(`delegation: ${c.referral.nameservers.map((n) => `${n.name} (${n.address})`).join(', ')} (ttl ${c.referral.delegationTtl}s)`);
  } else if (c.addresses.length) {
    out.push(`addresses: ${c.addresses.join(' ')}`);
  }
  out.push(`ecs scope: /${c.scope}`);
  return out;
}
