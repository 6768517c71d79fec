// A fake executor for agent tests: tasks are entries the test ends by hand (finish), so every exit
// (success, failure, OOM, kill) can be produced on cue. One instance can be shared by two Agents in
// turn, which models tasks that outlive an agent restart.
import type { ResourceStatistics } from '../../common/index.js';
import { ExecutorError } from '../../executors/index.js';
import type { ExecResult, Executor, ExecutorKind, ExitResult, RecoveredTask, TaskConfig, TaskHandle, TaskInspection } from '../../executors/index.js';

interface FakeTask {
  handle: TaskHandle;
  config: TaskConfig;
  exit: ExitResult | undefined;
  waiters: Array<(exit: ExitResult) => void>;
}

export class FakeExecutor implements Executor {
  readonly tasks = new Map<string, FakeTask>();
  readonly stopped: Array<{ taskId: string; timeoutMs: number }> = [];
  readonly destroyed: string[] = [];
  /** The next startTask throws this. */
  failNextStart: ExecutorError | undefined;
  /** startTask waits for this before returning (to test a kill during launch). */
  startGate: Promise<void> | undefined;
  /** Handles findTasks reports besides the known tasks (orphans). */
  orphans: TaskHandle[] = [];
  private readonly started = new Set<() => void>();

  constructor(readonly kind: ExecutorKind = 'command') {}

  async startTask(config: TaskConfig): Promise<TaskHandle> {
    for (const notify of this.started) notify();
    if (this.startGate) await this.startGate;
    const failure = this.failNextStart;
    if (failure) {
      this.failNextStart = undefined;
      throw failure;
    }
    const handle: TaskHandle = {
      kind: this.kind,
      taskId: config.task.task_id,
      containerId: config.containerId,
      sandboxDir: config.sandboxDir,
      pid: 4242,
      startedAt: Date.now(),
    };
    this.tasks.set(config.task.task_id, { handle, config, exit: undefined, waiters: [] });
    return handle;
  }

  /** Resolves when startTask is next called (before the gate). */
  nextStart(): Promise<void> {
    return new Promise((resolve) => {
      const notify = (): void => {
        this.started.delete(notify);
        resolve();
      };
      this.started.add(notify);
    });
  }

  /** Ends a task as if its process exited. */
  finish(taskId: string, exit: ExitResult): void {
    const task = this.tasks.get(taskId);
    if (!task) throw new Error(`fake executor: no task ${taskId}`);
    if (task.exit) return;
    task.exit = exit;
    for (const resolve of task.waiters.splice(0)) resolve(exit);
  }

  async waitTask(handle: TaskHandle): Promise<ExitResult> {
    const task = this.tasks.get(handle.taskId);
    if (!task) throw new ExecutorError('NOT_RUNNING', `no task ${handle.taskId}`);
    if (task.exit) return task.exit;
    return new Promise((resolve) => task.waiters.push(resolve));
  }

  async stopTask(handle: TaskHandle, timeoutMs: number): Promise<void> {
    this.stopped.push({ taskId: handle.taskId, timeoutMs });
    this.finish(handle.taskId, { exitCode: null, signal: 'SIGTERM', oomKilled: false });
  }

  async destroyTask(handle: TaskHandle): Promise<void> {
    this.destroyed.push(handle.containerId);
  }

  async recoverTask(handle: TaskHandle): Promise<RecoveredTask> {
    const task = this.tasks.get(handle.taskId);
    if (!task) return { running: false, exit: { exitCode: null, signal: null, oomKilled: false, message: 'container not found' } };
    return task.exit ? { running: false, exit: task.exit } : { running: true };
  }

  async findTasks(): Promise<TaskHandle[]> {
    return [...this.orphans, ...[...this.tasks.values()].filter((t) => !t.exit).map((t) => t.handle)];
  }

  async inspectTask(handle: TaskHandle): Promise<TaskInspection> {
    const task = this.tasks.get(handle.taskId);
    if (!task) return { running: false };
    return task.exit ? { running: false, exit: task.exit } : { running: true, pid: 4242 };
  }

  /** Runs nothing: every command "succeeds". */
  async execTask(): Promise<ExecResult> {
    return { exitCode: 0, signal: null, output: '' };
  }

  async taskAddress(): Promise<string | undefined> {
    return undefined;
  }

  async taskStats(handle: TaskHandle): Promise<ResourceStatistics> {
    const task = this.tasks.get(handle.taskId);
    if (!task) throw new ExecutorError('NOT_RUNNING', `no task ${handle.taskId}`);
    return {
      timestamp: Date.now() / 1000,
      cpus_limit: task.config.limits.cpus,
      mem_limit_bytes: task.config.limits.memBytes,
      mem_rss_bytes: 1024 * 1024,
      processes: 1,
    };
  }
}
