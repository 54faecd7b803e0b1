// dig for the operator-surface tests (the fixtures and the selector/CLI processes live
// in test/helpers/fixtures.ts and test/helpers/selector-process.ts).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DigAnswer { addresses: string[]; ttls: number[]; scope: number | null; status: string }

/** One A query with dig; `subnet` adds an ECS option, `from` binds the source address. */
export async function dig(port: number, name: string, opts: { subnet?: string; from?: string } = {}): Promise<DigAnswer> {
  const args = ['@127.0.0.1', '-p', String(port), name, 'A', '+norec', '+tries=1', '+time=2'];
  if (opts.subnet) args.push(`+subnet=${opts.subnet}`);
  if (opts.from) args.push('-b', opts.from);
  // Async: the selector may run in this very process.
  const { stdout: out } = await run('dig', args, { encoding: 'utf8' });
  const answers = [...out.matchAll(/^\S+\s+(\d+)\s+IN\s+A\s+(\S+)$/gm)];
  const ecs = /CLIENT-SUBNET: \S+\/\d+\/(\d+)/.exec(out);
  return {
    addresses: answers.map((m) => m[2] as string),
    ttls: answers.map((m) => Number(m[1])),
    scope: ecs ? Number(ecs[1]) : null,
    status: /status: (\w+)/.exec(out)?.[1] ?? '?',
  };
}
