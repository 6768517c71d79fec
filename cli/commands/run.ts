// `tessera run`: submit one task, print its id, follow its states until it ends.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { Option } from 'commander';
import { TesseraError, isTerminal, type TaskStatus, type TaskSubmission, type TaskView } from '../../common/index.js';
import { DEFAULT_MASTER, defaultTaskName, parseGraceSeconds, parsePositiveInteger, parsePositiveNumber } from '../args.js';
import { CliError, EXIT, UsageError } from '../errors.js';
import { MasterClient, isStatus } from '../master-client.js';
import { flag, masterOption, type MasterFlag } from '../options.js';
import { joinCommand } from '../shell-quote.js';

const POLL_INTERVAL_MS = 200;
/** How long one blocking read of the task may wait for its next status. */
const FOLLOW_WAIT_SECONDS = 10;
/** How long the master may stay unreachable while we follow before we give up. */
const UNREACHABLE_PATIENCE_MS = 15_000;

export interface RunOptions extends MasterFlag {
  image?: string;
  cpus: number;
  mem: number;
  pids?: number;
  name?: string;
  detach?: boolean;
  grace?: number;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('run')
    .description('run one task (a shell command, or a Docker image) and follow it until it ends')
    .argument('[command...]', 'the command, after --; several words are shell-quoted, one word is run as typed')
    .addOption(masterOption())
    .option('--image <image>', 'run in a Docker container of this image')
    .addOption(new Option('--cpus <n>', 'CPUs (fractions allowed)').default(0.1).argParser(flag((raw) => parsePositiveNumber(raw))))
    .addOption(new Option('--mem <mb>', 'memory limit in MB').default(64).argParser(flag((raw) => parsePositiveNumber(raw))))
    .addOption(new Option('--pids <n>', 'limit on processes and threads').argParser(flag(parsePositiveInteger)))
    .option('--name <name>', 'task name (default: the image name or the first word of the command)')
    .option('--detach', 'print the task id and return at once')
    .addOption(new Option('--grace <seconds>', 'SIGTERM → SIGKILL grace when the task is killed').argParser(flag(parseGraceSeconds)))
    .passThroughOptions()
    .action(async (words: string[], options: RunOptions) => setExitCode(await run(words, options)));
}

export function buildSubmission(words: readonly string[], options: Omit<RunOptions, 'master'>): TaskSubmission {
  const value = joinCommand(words).trim();
  if (options.image === undefined && value === '') {
    throw new UsageError('nothing to run: give a command after --, or an --image (e.g. tessera run -- echo hello)');
  }
  if (options.image !== undefined && options.image.trim() === '') throw new UsageError('--image is empty');
  const submission: TaskSubmission = {
    name: options.name ?? defaultTaskName(options.image, words),
    resources: { cpus: options.cpus, mem: options.mem, ...(options.pids === undefined ? {} : { pids: options.pids }) },
  };
  if (options.image !== undefined) submission.container = { type: 'DOCKER', docker: { image: options.image.trim() } };
  if (value !== '') submission.command = { shell: true, value };
  if (options.grace !== undefined) submission.kill_grace_period_seconds = options.grace;
  return submission;
}

export async function run(words: readonly string[], options: RunOptions): Promise<number> {
  const submission = buildSubmission(words, options);
  const client = new MasterClient(options.master);
  let view: TaskView;
  try {
    view = await client.submitTask(submission);
  } catch (err) {
    // The master names the bad field in its message (`resources.mem: must be >= 4`).
    if (isStatus(err, 400)) throw new CliError(err.peerMessage, EXIT.usage);
    throw err;
  }
  if (options.detach) {
    process.stdout.write(`${view.task_id}\n`);
    return EXIT.ok;
  }
  // Listen for Ctrl-C before the id is out: whoever reads the id may interrupt us at once.
  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    process.stdout.write(`${view.task_id}\n`);
    return await follow(client, view, interrupt.signal, masterFlagText(options));
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** ` --master X` when the master is not the default, for hints the user can paste. */
function masterFlagText(options: MasterFlag): string {
  return options.master.text === DEFAULT_MASTER ? '' : ` --master ${options.master.text}`;
}

async function follow(client: MasterClient, submitted: TaskView, interrupted: AbortSignal, masterFlag: string): Promise<number> {
  const taskId = submitted.task_id;
  const printer = new StatusPrinter();
  let view = submitted;
  let lastContact = Date.now();
  for (;;) {
    printer.print(view);
    if (isTerminal(view.state)) break;
    if (interrupted.aborted) break;
    try {
      const seen = view.statuses.length;
      // A blocking read: the master answers at the task's next status, so nothing lags behind it.
      const next = await untilAborted(client.waitTask(taskId, seen, FOLLOW_WAIT_SECONDS), interrupted);
      if (next === undefined) break; // interrupted
      view = next;
      lastContact = Date.now();
      // Nothing new (the wait ran out, or a master that does not block): do not spin.
      if (view.statuses.length === seen && !isTerminal(view.state)) {
        await sleep(POLL_INTERVAL_MS, undefined, { signal: interrupted }).catch(() => undefined);
      }
    } catch (err) {
      if (interrupted.aborted) break;
      if (isStatus(err, 404)) throw new CliError(`task ${taskId} is no longer known to the master`);
      // A master restarting or failing over: keep trying for a while before giving up.
      if (err instanceof TesseraError && err.retryable && Date.now() - lastContact < UNREACHABLE_PATIENCE_MS) {
        await sleep(POLL_INTERVAL_MS, undefined, { signal: interrupted }).catch(() => undefined);
        continue;
      }
      throw err;
    }
  }
  if (interrupted.aborted) {
    process.stderr.write(
      `\nstopped following task ${taskId}; it keeps running. Stop it with: tessera kill ${taskId}${masterFlag}\n`,
    );
    return EXIT.interrupted;
  }
  if (view.state === 'TASK_FINISHED') return EXIT.ok;
  process.stderr.write(`task ${taskId} ended ${describeState(view.state, view.reason, view.message)}\n`);
  return EXIT.failed;
}

/** The promise's value, or undefined as soon as `signal` aborts (the promise is then left to settle). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  promise.catch(() => undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export function describeState(state: string, reason?: string, message?: string): string {
  return `${state}${reason ? ` (${reason})` : ''}${message ? `: ${message}` : ''}`;
}

/** Prints every status update once, in order; falls back to the task's state when it has none. */
class StatusPrinter {
  private readonly seen = new Set<string>();
  private lastState: string | undefined;

  print(view: TaskView): void {
    const statuses: TaskStatus[] = [...(view.statuses ?? [])].sort((a, b) => a.timestamp - b.timestamp);
    for (const status of statuses) {
      const key = status.uuid || `${status.state}@${status.timestamp}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.line(status.state, status.reason, status.message);
    }
    if (view.state !== this.lastState) this.line(view.state, view.reason, view.message);
  }

  private line(state: string, reason?: string, message?: string): void {
    // The same state may come again (a retried update); print it once unless it says something new.
    if (state === this.lastState && !reason && !message) return;
    this.lastState = state;
    process.stderr.write(`${describeState(state, reason, message)}\n`);
  }
}
