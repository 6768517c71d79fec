// `tessera logs ID`: a task's stdout (or stderr) from its sandbox, read through the agent's
// Mesos-style /files/read endpoint; --follow keeps reading until the task has ended.
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { isTerminal, type TaskView } from '../../common/index.js';
import { parseMasterAddress, type Address } from '../args.js';
import { CliError, EXIT } from '../errors.js';
import { AgentClient, MasterClient, isStatus } from '../master-client.js';
import { masterOption, type MasterFlag } from '../options.js';

/** Bytes asked for per /files/read call. */
const PAGE_BYTES = 256 * 1024;
const FOLLOW_INTERVAL_MS = 500;

export interface LogsOptions extends MasterFlag {
  stderr?: boolean;
  follow?: boolean;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('logs')
    .description("print a task's stdout (or --stderr)")
    .argument('<id>', 'the task id')
    .addOption(masterOption())
    .option('--stderr', 'print stderr instead of stdout')
    .option('-f, --follow', 'keep printing new output until the task ends')
    .action(async (taskId: string, options: LogsOptions) => setExitCode(await logs(taskId, options)));
}

export async function logs(taskId: string, options: LogsOptions): Promise<number> {
  const master = new MasterClient(options.master);
  const file = options.stderr ? 'stderr' : 'stdout';
  let view = await getTask(master, taskId);
  // A task not yet placed has no sandbox: wait for one when following, else say so.
  while (view.agent === undefined) {
    if (!options.follow || isTerminal(view.state)) {
      throw new CliError(`task ${taskId} has no sandbox on an agent (${view.state}); nothing to show`);
    }
    await sleep(FOLLOW_INTERVAL_MS);
    view = await getTask(master, taskId);
  }
  const agentAddress = parseMasterAddress(`${view.agent.ip}:${view.agent.port}`);
  const agent = new AgentClient(agentAddress);
  const path = `${await sandboxDirectory(agent, agentAddress, taskId)}/${file}`;
  const reader = new FileReader(agent, path);
  for (;;) {
    await reader.drain(Boolean(options.follow));
    if (!options.follow) return EXIT.ok;
    if (isTerminal(view.state)) {
      await reader.drain(true); // what was written between our last read and the end
      return EXIT.ok;
    }
    await sleep(FOLLOW_INTERVAL_MS);
    view = await getTask(master, taskId);
  }
}

async function getTask(master: MasterClient, taskId: string): Promise<TaskView> {
  try {
    return await master.getTask(taskId);
  } catch (err) {
    if (isStatus(err, 404)) throw new CliError(`no such task: ${taskId}`);
    throw err;
  }
}

async function sandboxDirectory(agent: AgentClient, address: Address, taskId: string): Promise<string> {
  const state = await agent.state();
  const task = [...state.tasks, ...state.completed_tasks].find((candidate) => candidate.id === taskId);
  if (task?.directory === undefined || task.directory === '') {
    throw new CliError(`the agent at ${address.hostPort} has no sandbox for task ${taskId} (it may have been removed)`);
  }
  return task.directory.replace(/\/+$/, '');
}

/** Reads a growing file page by page from where it left off. */
class FileReader {
  private offset = 0;

  constructor(
    private readonly agent: AgentClient,
    private readonly path: string,
  ) {}

  /**
   * Prints everything up to the file's current size. Offsets advance by the bytes asked for (never by the
   * decoded string's length), so a multi-byte character split across pages cannot shift later reads.
   * A file that does not exist yet counts as empty when `missingIsEmpty`.
   */
  async drain(missingIsEmpty: boolean): Promise<void> {
    let size: number;
    try {
      size = (await this.agent.readFile(this.path, -1)).offset;
    } catch (err) {
      if (isStatus(err, 404)) {
        if (missingIsEmpty) return;
        throw new CliError(`no ${this.path.split('/').pop() ?? 'output'} for this task on its agent (${this.path})`);
      }
      throw err;
    }
    while (this.offset < size) {
      const length = Math.min(PAGE_BYTES, size - this.offset);
      const chunk = await this.agent.readFile(this.path, this.offset, length);
      if (chunk.data === '') break; // the file shrank (truncated): stop rather than spin
      await write(chunk.data);
      this.offset += length;
    }
  }
}

async function write(data: string): Promise<void> {
  if (!process.stdout.write(data)) await once(process.stdout, 'drain');
}
