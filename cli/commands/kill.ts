// `tessera kill ID`: ask the master to kill a task (it answers at once; the kill proceeds on the agent).
import type { Command } from 'commander';
import { isTerminal } from '../../common/index.js';
import { CliError, EXIT } from '../errors.js';
import { MasterClient, isStatus } from '../master-client.js';
import { masterOption, type MasterFlag } from '../options.js';

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('kill')
    .description('kill a task')
    .argument('<id>', 'the task id (as `tessera run` or `tessera ps` shows it)')
    .addOption(masterOption())
    .action(async (taskId: string, options: MasterFlag) => setExitCode(await kill(taskId, options)));
}

export async function kill(taskId: string, options: MasterFlag): Promise<number> {
  try {
    const view = await new MasterClient(options.master).killTask(taskId);
    if (isTerminal(view.state)) {
      process.stdout.write(`task ${taskId} had already ended (${view.state})\n`);
    } else {
      process.stdout.write(`killing task ${taskId}\n`);
    }
    return EXIT.ok;
  } catch (err) {
    if (isStatus(err, 404)) throw new CliError(`no such task: ${taskId}`);
    if (isStatus(err, 409)) throw new CliError(`cannot kill task ${taskId}: ${err.peerMessage}`);
    throw err;
  }
}
