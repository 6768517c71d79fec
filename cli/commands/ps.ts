// `tessera ps`: the master's tasks as a table (running ones by default, all with --all).
import type { Command } from 'commander';
import { isTerminal, type TaskView } from '../../common/index.js';
import { EXIT } from '../errors.js';
import { formatAge, formatCpus, formatMegabytes, formatTable } from '../format.js';
import { MasterClient } from '../master-client.js';
import { jsonOption, masterOption, type MasterFlag } from '../options.js';

export interface PsOptions extends MasterFlag {
  all?: boolean;
  json?: boolean;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('ps')
    .description('list tasks (those not yet ended, unless --all)')
    .addOption(masterOption())
    .option('--all', 'include tasks that have ended')
    .addOption(jsonOption())
    .action(async (options: PsOptions) => setExitCode(await ps(options)));
}

export async function ps(options: PsOptions): Promise<number> {
  const tasks = (await new MasterClient(options.master).listTasks())
    .filter((task) => options.all || !isTerminal(task.state))
    .sort((a, b) => a.submitted_at - b.submitted_at);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ tasks }, null, 2)}\n`);
    return EXIT.ok;
  }
  process.stdout.write(formatTasks(tasks, Date.now() / 1000));
  return EXIT.ok;
}

export function formatTasks(tasks: readonly TaskView[], nowSeconds: number): string {
  return formatTable(
    ['ID', 'NAME', 'STATE', 'AGENT', 'CPUS', 'MEM', 'AGE'],
    tasks.map((task) => [
      task.task_id,
      task.name,
      task.state,
      task.agent?.hostname ?? task.agent_id ?? '-',
      formatCpus(task.resources.cpus),
      formatMegabytes(task.resources.mem),
      formatAge(nowSeconds - task.submitted_at),
    ]),
  );
}
