// `tessera agents`: the agents registered with the master and what they have in use.
import type { Command } from 'commander';
import { addressFromPid } from '../args.js';
import { EXIT } from '../errors.js';
import { formatCpus, formatMegabytes, formatTable, formatUsedTotal } from '../format.js';
import { MasterClient, type MasterStateAgent } from '../master-client.js';
import { jsonOption, masterOption, type MasterFlag } from '../options.js';

export interface AgentsOptions extends MasterFlag {
  json?: boolean;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('agents')
    .description('list the agents registered with the master')
    .addOption(masterOption())
    .addOption(jsonOption())
    .action(async (options: AgentsOptions) => setExitCode(await agents(options)));
}

export async function agents(options: AgentsOptions): Promise<number> {
  const state = await new MasterClient(options.master).state();
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ slaves: state.slaves }, null, 2)}\n`);
    return EXIT.ok;
  }
  process.stdout.write(formatAgents(state.slaves));
  return EXIT.ok;
}

export function formatAgents(slaves: readonly MasterStateAgent[]): string {
  return formatTable(
    ['ID', 'HOSTNAME', 'ADDRESS', 'CPUS', 'MEM', 'ACTIVE'],
    slaves.map((agent) => [
      agent.id,
      agent.hostname,
      addressFromPid(agent.pid)?.hostPort ?? agent.pid,
      formatUsedTotal(agent.used_resources?.cpus, agent.resources.cpus, formatCpus),
      formatUsedTotal(agent.used_resources?.mem, agent.resources.mem, formatMegabytes),
      agent.active ? 'yes' : 'no',
    ]),
  );
}
