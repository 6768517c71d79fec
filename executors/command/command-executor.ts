// Runs a task's command as a plain process inside its isolator's cgroup (Mesos's command executor,
// shaped like a Nomad driver). The process is a detached wrapper (its own process group, so it outlives
// an agent restart) that waits on fd 3 until it has been moved into the cgroup, then runs the program
// and records its exit status in the sandbox for an agent that was down when it ended. Wrappers are
// started by a small spawner process (spawner.ts), so that the agent never blocks on fork/exec.
import { constants as fsConstants } from 'node:fs';
import { access, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
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
  ExecOptions,
  ExecResult,
  Executor,
  ExitResult,
  RecoveredTask,
  TaskConfig,
  TaskHandle,
  TaskInspection,
} from '../executor.js';
import { execArgv, execOutputPath, readExecContext, takeOutputTail, type ExecContext } from './exec-task.js';
import { taskArgv, taskEnv } from './launch-spec.js';
import { isWrapperAlive, signalQuietly, signalWrapperGroup } from './processes.js';
import { SpawnerError } from './errors.js';
import { findProgram } from './program.js';
import { Spawner, type SpawnedWrapper, type WrapperEnd, type WrapperSpec } from './spawner.js';
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

/** A wrapper this executor launched: its exit comes from the spawner, which is its parent. */
interface OwnTask {
  exited: Promise<WrapperEnd>;
  /** Keeps the agent's process alive while the exit is awaited. */
  hold(): () => void;
}

const UNKNOWN_EXIT_MESSAGE = 'exited while the agent was down; exit status unknown';
const LOST_EXIT_MESSAGE = 'exited after its spawner process ended; exit status unknown';

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
  /** containerId → the environment and user a command run in the task (execTask) gets. */
  private readonly execContexts = new Map<string, ExecContext>();
  private currentSpawner: Spawner | undefined;
  /** Every spawner started, until close(): one that ended may still be exiting. */
  private readonly spawners = new Set<Spawner>();
  private closed = false;

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
    try {
      argv = taskArgv(command);
      env = taskEnv({ command, extra: config.env, sandboxDir, ports: config.task.resources.ports });
    } catch (err) {
      throw asLaunchFailed(err);
    }
    // The sandbox and the cgroups are made at the same time; a sandbox problem is reported first, as
    // it is the task's own, and cgroups made for a launch that fails are removed.
    const programPath = argv[0] ?? '';
    const [sandbox, isolation] = await Promise.allSettled([
      (async () => {
        if (command?.shell === false) await findProgram(programPath, env.PATH ?? '', sandboxDir);
        const ids = command?.user ? await resolveUser(command.user) : undefined;
        await this.prepareSandbox(sandboxDir, ids);
        return ids;
      })(),
      this.isolator.prepare(containerId, config.limits),
    ]);
    if (sandbox.status === 'rejected' || isolation.status === 'rejected') {
      if (isolation.status === 'fulfilled') await this.cleanupAfterFailedLaunch(containerId);
      if (sandbox.status === 'rejected') throw asLaunchFailed(sandbox.reason);
      const reason: unknown = isolation.status === 'rejected' ? isolation.reason : undefined;
      throw new ExecutorError('LAUNCH_FAILED', `cannot prepare isolation: ${errorMessage(reason)}`, { cause: reason });
    }
    const user: UserIds | undefined = sandbox.value;
    let pid: number;
    try {
      pid = await this.spawnIsolated(config, argv, env, user);
    } catch (err) {
      await this.cleanupAfterFailedLaunch(containerId);
      throw asLaunchFailed(err);
    }
    this.execContexts.set(containerId, { env, ...(user ? { user } : {}) });
    this.watchLimits(containerId);
    this.logger.info({ taskId: config.task.task_id, containerId, pid }, 'command task started');
    return { kind: 'command', taskId: config.task.task_id, containerId, sandboxDir, pid, startedAt: this.clock.now() };
  }

  private async cleanupAfterFailedLaunch(containerId: string): Promise<void> {
    await this.isolator.cleanup(containerId).catch((cleanupErr: unknown) => {
      this.logger.warn({ containerId, err: cleanupErr }, 'cleanup after a failed launch failed');
    });
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
      await signalWrapperGroup(handle.pid, containerId, 'SIGKILL');
      await this.isolator.kill(containerId);
    }
    await exit;
  }

  async destroyTask(handle: TaskHandle): Promise<void> {
    const { containerId } = handle;
    // Without an enforcing isolator the process group is all there is to kill.
    await signalWrapperGroup(handle.pid, containerId, 'SIGKILL');
    await this.isolator.cleanup(containerId);
    this.ownTasks.delete(containerId);
    this.watching.delete(containerId);
    this.oomSeen.delete(containerId);
    this.exits.delete(containerId);
    this.execContexts.delete(containerId);
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

  /** A command task shares the agent's network: it listens on this host's addresses. */
  async taskAddress(): Promise<string | undefined> {
    return undefined;
  }

  /**
   * Runs argv in the task's cgroup, sandbox, environment and user: started by the spawner behind the
   * same fd-3 gate as the task itself, released only once the isolator moved it into the cgroup. Its
   * own process group, SIGKILLed at the timeout or on abort. Output goes to a file in the state dir
   * (the spawner gives its children files, not pipes), whose tail is returned.
   */
  async execTask(handle: TaskHandle, argv: string[], options: ExecOptions): Promise<ExecResult> {
    const { containerId, sandboxDir } = handle;
    if (argv.length === 0) throw new ExecutorError('LAUNCH_FAILED', 'nothing to run: empty argv');
    if (options.signal.aborted) return { exitCode: null, signal: null, output: '' };
    const context = await this.execContext(handle);
    const [file, ...args] = execArgv(containerId, argv);
    const outputPath = execOutputPath(sandboxDir);
    const spec: WrapperSpec = {
      file: file ?? '/bin/sh',
      args,
      cwd: sandboxDir,
      env: { ...context.env, ...options.env },
      ...(context.user ? { uid: context.user.uid, gid: context.user.gid } : {}),
      stdoutPath: outputPath,
      stderrPath: outputPath,
    };
    let spawned: { wrapper: SpawnedWrapper; spawner: Spawner };
    try {
      spawned = await this.spawnGated(containerId, spec);
    } catch (err) {
      await takeOutputTail(outputPath);
      throw new ExecutorError('NOT_RUNNING', `cannot run a command in task ${handle.taskId}: ${errorMessage(err)}`, { cause: err });
    }
    const { pid, exited } = spawned.wrapper;
    const kill = (): void => {
      try {
        signalQuietly(-pid, 'SIGKILL');
      } catch (err) {
        this.logger.warn({ containerId, pid, err }, 'cannot kill an exec in the task');
      }
    };
    const timer = this.clock.setTimeout(kill, options.timeoutMs);
    options.signal.addEventListener('abort', kill, { once: true });
    if (options.signal.aborted) kill();
    const release = spawned.spawner.hold();
    let end: WrapperEnd;
    try {
      end = await exited;
    } finally {
      release();
      this.clock.clearTimeout(timer);
      options.signal.removeEventListener('abort', kill);
    }
    // The spawner ended first: the command may still run, and nobody will say how it ends.
    if (end.kind === 'lost') kill();
    const output = await takeOutputTail(outputPath);
    if (end.kind === 'lost') return { exitCode: null, signal: null, output };
    return { exitCode: end.code, signal: end.signal, output };
  }

  /** The task's environment and user: as launched here, else read from its wrapper (a recovered task). */
  private async execContext(handle: TaskHandle): Promise<ExecContext> {
    const known = this.execContexts.get(handle.containerId);
    if (known) return known;
    const { context, fromTask } = await readExecContext(handle.pid, handle.containerId, handle.sandboxDir);
    if (fromTask) this.execContexts.set(handle.containerId, context);
    return context;
  }

  /** Our state dir in the sandbox, without a status from an earlier run; owned by the task's user. */
  private async prepareSandbox(sandboxDir: string, user: UserIds | undefined): Promise<void> {
    // Not recursive: the sandbox must already exist (the agent makes it); only the state dir is ours.
    const made = await mkdir(stateDir(sandboxDir)).then(
      () => true,
      (err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new ExecutorError('LAUNCH_FAILED', `cannot use sandbox ${sandboxDir}: ${errorMessage(err)}`, {
            cause: err,
          });
        }
        return false;
      },
    );
    // A state dir made just now holds no status; only a reused one may.
    if (!made) await rm(exitStatusFile(sandboxDir), { force: true });
    if (user) {
      await chown(sandboxDir, user.uid, user.gid);
      await chown(stateDir(sandboxDir), user.uid, user.gid);
    }
  }

  /**
   * Has the spawner start the wrapper, moves it into the cgroup, then releases it to run the program.
   * A wrapper the spawner started but never released runs nothing (its gate closes with the spawner),
   * so a launch the spawner ended under is safely tried once more on a new spawner.
   */
  private async spawnIsolated(
    config: TaskConfig,
    argv: string[],
    env: Record<string, string>,
    user: UserIds | undefined,
  ): Promise<number> {
    const { containerId, sandboxDir } = config;
    const [file, ...args] = wrapperArgv(containerId, sandboxDir, argv);
    const spec: WrapperSpec = {
      file: file ?? '/bin/sh',
      args,
      cwd: sandboxDir,
      env,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      stdoutPath: join(sandboxDir, 'stdout'),
      stderrPath: join(sandboxDir, 'stderr'),
    };
    const { wrapper, spawner } = await this.spawnGated(containerId, spec);
    this.ownTasks.set(containerId, { exited: wrapper.exited, hold: () => spawner.hold() });
    return wrapper.pid;
  }

  /**
   * Starts a gated process through the spawner (once more on a new spawner if it ended meanwhile),
   * moves it into the container's cgroup, then releases it. Never released, it runs nothing.
   */
  private async spawnGated(containerId: string, spec: WrapperSpec): Promise<{ wrapper: SpawnedWrapper; spawner: Spawner }> {
    let spawner = this.spawner();
    let wrapper: SpawnedWrapper;
    try {
      wrapper = await spawner.spawn(spec);
    } catch (err) {
      if (!(err instanceof SpawnerError && err.code === 'SPAWNER_ENDED')) throw err;
      this.logger.info({ containerId, err: errorMessage(err) }, 'the spawner ended during a launch; trying a new one');
      spawner = this.spawner();
      wrapper = await spawner.spawn(spec);
    }
    try {
      await this.isolator.isolate(containerId, wrapper.pid);
      await wrapper.release();
    } catch (err) {
      signalQuietly(-wrapper.pid, 'SIGKILL');
      await wrapper.exited;
      throw new ExecutorError('LAUNCH_FAILED', `cannot isolate the task: ${errorMessage(err)}`, { cause: err });
    }
    return { wrapper, spawner };
  }

  /** Starts the spawner now (in the background), so the first launch does not pay its start-up. */
  warmUp(): void {
    if (!this.closed) this.spawner();
  }

  /** The live spawner, or a new one if there is none yet or the last one ended. */
  private spawner(): Spawner {
    const current = this.currentSpawner;
    if (current?.alive) return current;
    if (this.closed) throw new ExecutorError('LAUNCH_FAILED', 'the command executor is closed');
    if (current) void current.close().then(() => this.spawners.delete(current));
    const spawner = Spawner.start({ logger: this.logger, clock: this.clock });
    this.currentSpawner = spawner;
    this.spawners.add(spawner);
    return spawner;
  }

  /**
   * Ends the spawner; running tasks go on (they are detached) and are then followed by pid, as after an
   * agent restart. No launch after this.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.spawners].map((spawner) => spawner.close()));
    this.spawners.clear();
  }

  private async computeExit(handle: TaskHandle): Promise<ExitResult> {
    const { containerId, sandboxDir } = handle;
    const own = this.ownTasks.get(containerId);
    let result: ExitResult;
    let oom: Promise<boolean> | undefined;
    // Waiting keeps the agent's process alive; a running task by itself does not.
    const end = own ? await this.holding(own) : undefined;
    if (end?.kind === 'exited') {
      const { code, signal } = end;
      if (signal !== null) {
        // The wrapper itself was killed: the program may outlive it, and may have left a status.
        await this.pollUntilEnded(handle);
        const status = await readExitStatus(sandboxDir);
        result =
          status !== undefined
            ? decodeShellStatus(status)
            : { exitCode: null, signal, oomKilled: false, message: `terminated by ${signal}` };
      } else {
        // The OOM counter is read alongside (below it is then known at once).
        oom = this.wasOomKilled(containerId);
        const recorded = await readExitStatus(sandboxDir);
        result =
          recorded === undefined && code === NOT_RELEASED_STATUS
            ? { exitCode: null, signal: null, oomKilled: false, message: 'the task was never released to run' }
            : decodeShellStatus(recorded ?? code ?? NOT_RELEASED_STATUS);
      }
    } else {
      // Not our child, or the spawner that was its parent ended first: follow it by pid.
      await this.pollUntilEnded(handle);
      const status = await readExitStatus(sandboxDir);
      result =
        status !== undefined
          ? decodeShellStatus(status)
          : {
              exitCode: null,
              signal: null,
              oomKilled: false,
              message: end?.kind === 'lost' ? LOST_EXIT_MESSAGE : UNKNOWN_EXIT_MESSAGE,
            };
    }
    // Read before anyone cleans the cgroup up: the counter goes with it.
    if (await (oom ?? this.wasOomKilled(containerId))) {
      result = {
        ...result,
        oomKilled: true,
        message: `killed for exceeding its memory limit (${result.message ?? 'no status'})`,
      };
    }
    this.logger.info({ containerId, exit: result }, 'command task ended');
    return result;
  }

  /** Awaits a wrapper's end while keeping the agent's process alive for it. */
  private async holding(own: OwnTask): Promise<WrapperEnd> {
    const release = own.hold();
    try {
      return await own.exited;
    } finally {
      release();
    }
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
      return ((await this.isolator.oomKills(containerId)) ?? 0) > 0;
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
    await signalWrapperGroup(handle.pid, handle.containerId, signal);
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
