// Runs a task's command as a plain process inside its isolator's cgroup (Mesos's command executor,
// shaped like a Nomad driver). The process is a detached wrapper (its own process group, so it outlives
// an agent restart) that waits on fd 3 until it has been moved into the cgroup, then runs the program
// and records its exit status in the sandbox for an agent that was down when it ended.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chown, mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import {
  errorMessage,
  systemClock,
  TesseraError,
  type Clock,
  type Logger,
  type ResourceStatistics,
} from '../../common/index.js';
import type { Isolator } from '../../isolators/index.js';
import { ExecutorError } from '../errors.js';
import type {
  Executor,
  ExitResult,
  RecoveredTask,
  TaskConfig,
  TaskHandle,
  TaskInspection,
} from '../executor.js';
import { taskArgv, taskEnv } from './launch-spec.js';
import { isWrapperAlive, signalQuietly } from './processes.js';
import { findProgram } from './program.js';
import { resolveUser, type UserIds } from './users.js';
import {
  decodeShellStatus,
  exitStatusFile,
  NOT_RELEASED_STATUS,
  readExitStatus,
  stateDir,
  wrapperArgv,
} from './wrapper.js';

export interface CommandExecutorOptions {
  isolator: Isolator;
  logger: Logger;
  clock?: Clock;
  /** How often a task that is not this executor's child is checked for its end (ms). Default 250. */
  pollIntervalMs?: number;
}

interface WrapperExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A wrapper this executor spawned: its exit comes from the child process itself. */
interface OwnTask {
  child: ChildProcess;
  exited: Promise<WrapperExit>;
}

const UNKNOWN_EXIT_MESSAGE = 'exited while the agent was down; exit status unknown';

export class CommandExecutor implements Executor {
  readonly kind = 'command' as const;
  private readonly isolator: Isolator;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly ownTasks = new Map<string, OwnTask>();
  private readonly exits = new Map<string, Promise<ExitResult>>();
  /** Containers whose isolator reported a memory limitation (OOM kill). */
  private readonly oomSeen = new Set<string>();
  private readonly watching = new Set<string>();

  private constructor(options: CommandExecutorOptions) {
    this.isolator = options.isolator;
    this.logger = options.logger.child({ executor: 'command' });
    this.clock = options.clock ?? systemClock;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
  }

  static async create(options: CommandExecutorOptions): Promise<CommandExecutor> {
    try {
      await access('/bin/sh', fsConstants.X_OK);
    } catch (err) {
      throw new ExecutorError('LAUNCH_FAILED', 'the command executor needs /bin/sh', { cause: err });
    }
    return new CommandExecutor(options);
  }

  async startTask(config: TaskConfig): Promise<TaskHandle> {
    const { containerId, sandboxDir } = config;
    const command = config.task.command;
    let argv: string[];
    let env: Record<string, string>;
    let user: UserIds | undefined;
    try {
      argv = taskArgv(command);
      env = taskEnv({ command, extra: config.env, sandboxDir });
      if (command?.shell === false) await findProgram(argv[0] ?? '', env.PATH ?? '', sandboxDir);
      user = command?.user ? await resolveUser(command.user) : undefined;
      await this.prepareSandbox(sandboxDir, user);
    } catch (err) {
      throw asLaunchFailed(err);
    }

    try {
      await this.isolator.prepare(containerId, config.limits);
    } catch (err) {
      throw new ExecutorError('LAUNCH_FAILED', `cannot prepare isolation: ${errorMessage(err)}`, { cause: err });
    }
    let pid: number;
    try {
      pid = await this.spawnIsolated(config, argv, env, user);
    } catch (err) {
      await this.isolator.cleanup(containerId).catch((cleanupErr: unknown) => {
        this.logger.warn({ containerId, err: cleanupErr }, 'cleanup after a failed launch failed');
      });
      throw asLaunchFailed(err);
    }
    this.watchLimits(containerId);
    this.logger.info({ taskId: config.task.task_id, containerId, pid }, 'command task started');
    return { kind: 'command', taskId: config.task.task_id, containerId, sandboxDir, pid, startedAt: this.clock.now() };
  }

  waitTask(handle: TaskHandle): Promise<ExitResult> {
    let exit = this.exits.get(handle.containerId);
    if (!exit) {
      exit = this.computeExit(handle);
      this.exits.set(handle.containerId, exit);
      // A failed wait (e.g. the sandbox vanished) may be retried.
      exit.catch(() => this.exits.delete(handle.containerId));
    }
    return exit;
  }

  async stopTask(handle: TaskHandle, timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const { containerId } = handle;
    const exit = this.waitTask(handle);
    let settled = false;
    const markSettled = (): void => {
      settled = true;
    };
    void exit.then(markSettled, markSettled);
    await this.signalAll(handle, signal);

    // Grace: until the wrapper has ended and nothing is left in the cgroup, or the deadline.
    const deadline = this.clock.now() + timeoutMs;
    await this.raceDeadline(exit, deadline);
    while (this.clock.now() < deadline) {
      if (settled && (await this.processes(containerId)).length === 0) break;
      await this.sleep(Math.min(50, Math.max(0, deadline - this.clock.now())));
    }
    if (!settled || (await this.processes(containerId)).length > 0) {
      this.logger.info({ containerId, timeoutMs }, 'task outlived its grace period; killing it');
      if (await isWrapperAlive(handle.pid, containerId)) signalQuietly(-(handle.pid ?? 0), 'SIGKILL');
      await this.isolator.kill(containerId);
    }
    await exit;
  }

  async destroyTask(handle: TaskHandle): Promise<void> {
    const { containerId } = handle;
    // Without an enforcing isolator the process group is all there is to kill.
    if (await isWrapperAlive(handle.pid, containerId)) signalQuietly(-(handle.pid ?? 0), 'SIGKILL');
    await this.isolator.cleanup(containerId);
    this.ownTasks.delete(containerId);
    this.watching.delete(containerId);
    this.oomSeen.delete(containerId);
    this.exits.delete(containerId);
  }

  async recoverTask(handle: TaskHandle): Promise<RecoveredTask> {
    if (await this.isRunning(handle)) {
      this.watchLimits(handle.containerId);
      return { running: true };
    }
    return { running: false, exit: await this.waitTask(handle) };
  }

  /** Command tasks are found through the agent's checkpoints, never by scanning. */
  async findTasks(_agentId: string): Promise<TaskHandle[]> {
    return [];
  }

  async inspectTask(handle: TaskHandle): Promise<TaskInspection> {
    const base = handle.pid === undefined ? {} : { pid: handle.pid };
    if (await this.isRunning(handle)) return { running: true, ...base };
    return { running: false, ...base, exit: await this.waitTask(handle) };
  }

  async taskStats(handle: TaskHandle): Promise<ResourceStatistics> {
    try {
      return await this.isolator.usage(handle.containerId);
    } catch (err) {
      if (err instanceof TesseraError && err.code === 'NOT_FOUND') {
        throw new ExecutorError('NOT_RUNNING', `task ${handle.taskId} has no container`, { cause: err });
      }
      throw err;
    }
  }

  /** Our state dir in the sandbox, without a status from an earlier run; owned by the task's user. */
  private async prepareSandbox(sandboxDir: string, user: UserIds | undefined): Promise<void> {
    // Not recursive: the sandbox must already exist (the agent makes it); only the state dir is ours.
    await mkdir(stateDir(sandboxDir)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ExecutorError('LAUNCH_FAILED', `cannot use sandbox ${sandboxDir}: ${errorMessage(err)}`, {
          cause: err,
        });
      }
    });
    await rm(exitStatusFile(sandboxDir), { force: true });
    if (user) {
      await chown(sandboxDir, user.uid, user.gid);
      await chown(stateDir(sandboxDir), user.uid, user.gid);
    }
  }

  /** Spawns the wrapper, moves it into the cgroup, then releases it to run the program. */
  private async spawnIsolated(
    config: TaskConfig,
    argv: string[],
    env: Record<string, string>,
    user: UserIds | undefined,
  ): Promise<number> {
    const { containerId, sandboxDir } = config;
    const [file, ...args] = wrapperArgv(containerId, sandboxDir, argv);
    const files: FileHandle[] = [];
    let spawned: Promise<ChildProcess>;
    let exited: Promise<WrapperExit>;
    try {
      const stdout = await open(join(sandboxDir, 'stdout'), 'a');
      files.push(stdout);
      const stderr = await open(join(sandboxDir, 'stderr'), 'a');
      files.push(stderr);
      if (user) {
        await stdout.chown(user.uid, user.gid);
        await stderr.chown(user.uid, user.gid);
      }
      const child = spawn(file ?? '/bin/sh', args, {
        cwd: sandboxDir,
        env,
        detached: true,
        stdio: ['ignore', stdout.fd, stderr.fd, 'pipe'],
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      });
      // Listen before anything else awaits: 'spawn'/'error' come on the next tick.
      spawned = new Promise<ChildProcess>((resolve, reject) => {
        child.once('spawn', () => resolve(child));
        child.once('error', reject);
      });
      spawned.catch(noop);
      exited = new Promise<WrapperExit>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
    } finally {
      // The child holds its own copies of the descriptors.
      await Promise.all(files.map((f) => f.close()));
    }
    const child = await spawned;
    child.on('error', (err) => this.logger.warn({ containerId, err }, 'wrapper process error'));
    const pid = child.pid;
    if (pid === undefined) throw new ExecutorError('LAUNCH_FAILED', 'the wrapper process has no pid');
    // Not ref'd: an agent that stops must not be held up by its tasks (they are meant to outlive it).
    child.unref();

    try {
      await this.isolator.isolate(containerId, pid);
      await release(child.stdio[3] as Writable | null);
    } catch (err) {
      signalQuietly(-pid, 'SIGKILL');
      await exited;
      throw new ExecutorError('LAUNCH_FAILED', `cannot isolate the task: ${errorMessage(err)}`, { cause: err });
    }
    this.ownTasks.set(containerId, { child, exited });
    return pid;
  }

  private async computeExit(handle: TaskHandle): Promise<ExitResult> {
    const { containerId, sandboxDir } = handle;
    const own = this.ownTasks.get(containerId);
    let result: ExitResult;
    if (own) {
      // Waiting keeps the process alive; otherwise the child does not.
      own.child.ref();
      const { code, signal } = await own.exited;
      own.child.unref();
      if (signal !== null) {
        // The wrapper itself was killed: the program may outlive it, and may have left a status.
        await this.pollUntilEnded(handle);
        const status = await readExitStatus(sandboxDir);
        result =
          status !== undefined
            ? decodeShellStatus(status)
            : { exitCode: null, signal, oomKilled: false, message: `terminated by ${signal}` };
      } else {
        const recorded = await readExitStatus(sandboxDir);
        result =
          recorded === undefined && code === NOT_RELEASED_STATUS
            ? { exitCode: null, signal: null, oomKilled: false, message: 'the task was never released to run' }
            : decodeShellStatus(recorded ?? code ?? NOT_RELEASED_STATUS);
      }
    } else {
      await this.pollUntilEnded(handle);
      const status = await readExitStatus(sandboxDir);
      result =
        status !== undefined
          ? decodeShellStatus(status)
          : { exitCode: null, signal: null, oomKilled: false, message: UNKNOWN_EXIT_MESSAGE };
    }
    // Read before anyone cleans the cgroup up: the counter goes with it.
    if (await this.wasOomKilled(containerId)) {
      result = {
        ...result,
        oomKilled: true,
        message: `killed for exceeding its memory limit (${result.message ?? 'no status'})`,
      };
    }
    this.logger.info({ containerId, exit: result }, 'command task ended');
    return result;
  }

  /** Running: the wrapper lives, or (its status not yet written) something is left in the cgroup. */
  private async isRunning(handle: TaskHandle): Promise<boolean> {
    if (await isWrapperAlive(handle.pid, handle.containerId)) return true;
    if ((await readExitStatus(handle.sandboxDir)) !== undefined) return false;
    return (await this.processes(handle.containerId)).length > 0;
  }

  private async pollUntilEnded(handle: TaskHandle): Promise<void> {
    while (await this.isRunning(handle)) await this.sleep(this.pollIntervalMs);
  }

  private async wasOomKilled(containerId: string): Promise<boolean> {
    if (this.oomSeen.has(containerId)) return true;
    try {
      return ((await this.isolator.usage(containerId)).mem_oom_kills ?? 0) > 0;
    } catch {
      return false;
    }
  }

  private watchLimits(containerId: string): void {
    if (this.watching.has(containerId)) return;
    this.watching.add(containerId);
    // Through a promise chain: an isolator may also throw synchronously (e.g. an unknown container).
    Promise.resolve(containerId)
      .then((id) => this.isolator.watch(id))
      .then(
        (limitation) => {
          this.oomSeen.add(containerId);
          this.logger.info({ containerId, limitation }, 'container hit a limit');
        },
        (err: unknown) => {
          // CANCELLED is the normal end of a watch (cleanup); anything else is worth a line.
          if (!(err instanceof TesseraError && err.code === 'CANCELLED')) {
            this.logger.debug({ containerId, err }, 'limit watch ended');
          }
        },
      );
  }

  /** The signal to the wrapper's process group and to everything in the cgroup (setsid escapees). */
  private async signalAll(handle: TaskHandle, signal: NodeJS.Signals): Promise<void> {
    if (await isWrapperAlive(handle.pid, handle.containerId)) signalQuietly(-(handle.pid ?? 0), signal);
    for (const pid of await this.processes(handle.containerId)) signalQuietly(pid, signal);
  }

  private async processes(containerId: string): Promise<number[]> {
    try {
      return await this.isolator.processes(containerId);
    } catch {
      return [];
    }
  }

  private async raceDeadline(promise: Promise<unknown>, deadline: number): Promise<void> {
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(resolve, Math.max(0, deadline - this.clock.now()));
    });
    try {
      await Promise.race([promise.then(noop, noop), timeout]);
    } finally {
      if (timer !== undefined) this.clock.clearTimeout(timer);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }
}

function noop(): void {}

function asLaunchFailed(err: unknown): ExecutorError {
  if (err instanceof ExecutorError) return err;
  return new ExecutorError('LAUNCH_FAILED', errorMessage(err), { cause: err });
}

/** Writes the release line to the wrapper's fd 3 and closes it. */
async function release(gate: Writable | null): Promise<void> {
  if (!gate) throw new Error('the wrapper has no release pipe');
  await new Promise<void>((resolve, reject) => {
    gate.once('error', reject);
    gate.end('go\n', () => resolve());
  });
  gate.destroy();
}
