// The task manager: launches tasks through an executor, turns what happens to them into status
// updates (every transition checked against common's table), kills them on request, and re-attaches
// to them after an agent restart. The final update of a task always comes from one place: the
// waiter that saw the task end (watch()), so a kill racing an exit cannot produce two.
import { mkdir } from 'node:fs/promises';
import {
  ConflictError,
  assertNever,
  NotFoundError,
  ValidationError,
  assertTransition,
  epochSeconds,
  errorMessage,
  isTerminal,
  randomIds,
  systemClock,
  type Clock,
  type IdSource,
  type Logger,
  type ResourceStatistics,
  type StatusSource,
  type TaskInfo,
  type TaskReason,
  type TaskState,
  type TaskStatus,
  type TaskStatisticsEntry,
} from '../../common/index.js';
import type { Executor, ExecutorKind, ExitResult, TaskConfig, TaskHandle } from '../../executors/index.js';
import type { ContainerLimits } from '../../isolators/index.js';
import type { CheckpointStore, CheckpointedTask } from '../checkpoint/index.js';
import type { StatusUpdateManager } from '../status-updates/index.js';
import { HealthChecker, probeFor, type HealthEvent, type ProbeContext } from '../health/index.js';
import { finalStatusFor } from './final-status.js';

export const DEFAULT_KILL_GRACE_MS = 3000;
const DEFAULT_MAX_COMPLETED_TASKS = 200;

export interface TaskRecord {
  readonly task: TaskInfo;
  readonly containerId: string;
  readonly sandboxDir: string;
  readonly kind: ExecutorKind;
  state: TaskState;
  statuses: TaskStatus[];
  handle: TaskHandle | undefined;
  /** A kill was asked for (possibly before the task had started). */
  kill: { graceMs: number } | undefined;
  /** TASK_KILLING was sent and stopTask issued. */
  killing: boolean;
  lastStats: ResourceStatistics | undefined;
  /** The last health check result sent; carried on every later update. */
  healthy: boolean | undefined;
  /** Runs the task's health check while it is RUNNING. */
  health: HealthChecker | undefined;
  /** Why the agent itself killed the task (failed health checks), for the final update's message. */
  killNote: string | undefined;
}

export interface TaskManagerOptions {
  store: CheckpointStore;
  statusUpdates: StatusUpdateManager;
  executors: Partial<Record<ExecutorKind, Executor>>;
  logger: Logger;
  /** The id the master gave this agent (undefined before the first registration). */
  agentId: () => string | undefined;
  clock?: Clock;
  ids?: IdSource;
  maxCompletedTasks?: number;
  /** What health checks need to run; without it tasks' health checks are not run. */
  health?: ProbeContext;
}

interface UpdateFields {
  reason?: TaskReason;
  message?: string;
  source?: StatusSource;
  exitCode?: number;
}

const HEALTH_REASON: TaskReason = 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED';

export class TaskManager {
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly clock: Clock;
  private readonly ids: IdSource;
  private readonly logger: Logger;
  private stopped = false;
  /** Container removals in flight: stop() waits for them so nothing is half torn down. */
  private readonly cleanups = new Set<Promise<void>>();

  constructor(private readonly options: TaskManagerOptions) {
    this.clock = options.clock ?? systemClock;
    this.ids = options.ids ?? randomIds;
    this.logger = options.logger.child({ module: 'tasks' });
  }

  list(): TaskRecord[] {
    return [...this.tasks.values()];
  }

  get(taskId: string): TaskRecord | undefined {
    return this.tasks.get(taskId);
  }

  /**
   * Checkpoints the task (already checked against the launch schema by the HTTP layer), then launches
   * it in the background. Resolves once task.json is durable (the HTTP layer answers 202 then);
   * everything after that is reported by status updates.
   */
  async launch(task: TaskInfo): Promise<TaskRecord> {
    const agentId = this.options.agentId();
    if (agentId !== undefined && task.agent_id !== agentId) {
      throw new ValidationError('task.agent_id', `is '${task.agent_id}' but this agent is '${agentId}'`);
    }
    if (this.tasks.has(task.task_id)) throw new ConflictError(`task '${task.task_id}' is already known to this agent`);
    const kind: ExecutorKind = task.container?.type === 'DOCKER' ? 'docker' : 'command';
    const containerId = this.ids.uuid();
    const record: TaskRecord = {
      task,
      containerId,
      sandboxDir: this.options.store.sandboxDirFor(containerId),
      kind,
      state: 'TASK_STAGING',
      statuses: [],
      handle: undefined,
      kill: undefined,
      killing: false,
      lastStats: undefined,
      healthy: undefined,
      health: undefined,
      killNote: undefined,
    };
    // In the map before the first await, so a duplicate arriving meanwhile is refused.
    this.tasks.set(task.task_id, record);
    try {
      await this.options.store.saveTask(task, { container_id: containerId, sandbox_dir: record.sandboxDir, kind });
    } catch (err) {
      this.tasks.delete(task.task_id);
      throw err;
    }
    this.logger.info({ taskId: task.task_id, containerId, kind }, 'launching task');
    void this.run(record).catch((err: unknown) => this.crashed(record, err));
    return record;
  }

  /** Kills a task: TASK_KILLING, then stopTask with the grace period; the waiter reports TASK_KILLED. */
  async kill(taskId: string, gracePeriodSeconds?: number): Promise<void> {
    const record = this.tasks.get(taskId);
    if (!record) throw new NotFoundError('task', taskId);
    if (isTerminal(record.state) || record.kill) return;
    const graceSeconds = gracePeriodSeconds ?? record.task.kill_grace_period_seconds;
    record.kill = { graceMs: graceSeconds === undefined ? DEFAULT_KILL_GRACE_MS : graceSeconds * 1000 };
    this.logger.info({ taskId, graceMs: record.kill.graceMs }, 'kill requested');
    // Without a handle the launch is still in progress: run() honours the request when it can.
    if (record.handle) await this.startKill(record);
  }

  /** Statistics of every task that has a running container; one that cannot be read is skipped. */
  async statistics(): Promise<TaskStatisticsEntry[]> {
    const live = this.list().filter((r) => r.handle !== undefined && !isTerminal(r.state));
    const results = await Promise.allSettled(
      live.map(async (record): Promise<TaskStatisticsEntry> => {
        const executor = this.options.executors[record.kind];
        if (!executor || !record.handle) throw new Error('no executor');
        const statistics = await executor.taskStats(record.handle);
        return {
          framework_id: record.task.framework_id ?? '',
          executor_id: record.task.task_id,
          executor_name: `Tessera ${record.kind} executor (task ${record.task.task_id})`,
          source: record.task.task_id,
          task_id: record.task.task_id,
          container_id: record.containerId,
          statistics,
        };
      }),
    );
    const entries: TaskStatisticsEntry[] = [];
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') entries.push(result.value);
      else this.logger.debug({ taskId: live[i]?.task.task_id, err: errorMessage(result.reason) }, 'statistics unavailable');
    });
    return entries;
  }

  /**
   * Stop acting on tasks (agent shutdown): they keep running and a new agent recovers them. Waits for
   * container removals already under way (tasks that had ended), so none is left half done.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.list().map((record) => this.stopHealth(record)), ...this.cleanups]);
  }

  private track(cleanup: Promise<void>): Promise<void> {
    this.cleanups.add(cleanup);
    void cleanup.finally(() => this.cleanups.delete(cleanup)).catch(() => undefined);
    return cleanup;
  }

  // ---- recovery -------------------------------------------------------------------------------

  /** Recovery: rebuilds the in-memory record of a checkpointed task. */
  restore(checkpoint: CheckpointedTask): TaskRecord {
    const last = checkpoint.updates[checkpoint.updates.length - 1];
    const record: TaskRecord = {
      task: checkpoint.task,
      containerId: checkpoint.container.container_id,
      sandboxDir: checkpoint.container.sandbox_dir,
      kind: checkpoint.container.kind,
      state: last?.state ?? 'TASK_STAGING',
      statuses: [...checkpoint.updates],
      handle: checkpoint.handle,
      kill: last?.state === 'TASK_KILLING' ? { graceMs: DEFAULT_KILL_GRACE_MS } : undefined,
      killing: last?.state === 'TASK_KILLING',
      lastStats: undefined,
      healthy: [...checkpoint.updates].reverse().find((u) => u.healthy !== undefined)?.healthy,
      health: undefined,
      killNote: undefined,
    };
    this.tasks.set(record.task.task_id, record);
    return record;
  }

  /** Recovery: the task still runs. Report RUNNING if that was never sent, finish a pending kill, and wait for it. */
  async reattach(record: TaskRecord): Promise<void> {
    const executor = this.options.executors[record.kind];
    const handle = record.handle;
    if (!executor || !handle) throw new Error(`cannot re-attach task ${record.task.task_id}: no executor or handle`);
    if (record.killing) {
      void executor.stopTask(handle, record.kill?.graceMs ?? DEFAULT_KILL_GRACE_MS).catch((err: unknown) => this.logger.warn({ err, taskId: record.task.task_id }, 'stopTask failed'));
    } else if (record.state === 'TASK_STAGING' || record.state === 'TASK_STARTING') {
      await this.send(record, 'TASK_RUNNING', { source: 'SOURCE_EXECUTOR' });
    }
    // A recovered running task is checked again (from the start: delay, no grace left to speak of).
    if (record.state === 'TASK_RUNNING') this.startHealth(record);
    void this.watch(record, executor, handle).catch((err: unknown) => this.crashed(record, err));
  }

  /** Recovery: the task ended while the agent was down. */
  async finishRecovered(record: TaskRecord, exit: ExitResult, note: string): Promise<void> {
    const executor = this.options.executors[record.kind];
    await this.finish(record, executor, exit, note);
  }

  /** Recovery (or launch failure): the task cannot be run or found; report it failed and clean up. */
  async fail(record: TaskRecord, reason: TaskReason, message: string): Promise<void> {
    if (isTerminal(record.state)) return;
    await this.send(record, 'TASK_FAILED', { reason, message, source: 'SOURCE_AGENT' });
    const executor = this.options.executors[record.kind];
    if (executor) {
      // Without a checkpointed handle, a best-effort one still names the container/cgroup to remove.
      const handle = record.handle ?? syntheticHandle(record);
      await this.track(executor.destroyTask(handle).catch((err: unknown) => this.logger.warn({ err, taskId: record.task.task_id }, 'cleanup after failure failed')));
    }
    this.pruneCompleted();
  }

  // ---- the life of a task -----------------------------------------------------------------------

  private async run(record: TaskRecord): Promise<void> {
    const { task } = record;
    const executor = this.options.executors[record.kind];
    if (!executor) {
      await this.send(record, 'TASK_FAILED', {
        reason: 'REASON_CONTAINER_LAUNCH_FAILED',
        message: `the ${record.kind} executor is not enabled on this agent${record.kind === 'docker' ? ' (no Docker engine, or --docker off)' : ''}`,
        source: 'SOURCE_AGENT',
      });
      return;
    }
    if (record.kind === 'command' && !task.command?.value) {
      await this.send(record, 'TASK_ERROR', { reason: 'REASON_TASK_INVALID', message: 'a task without a Docker container needs command.value', source: 'SOURCE_AGENT' });
      return;
    }
    if (record.kill) {
      await this.send(record, 'TASK_KILLED', { reason: 'REASON_TASK_KILLED_DURING_LAUNCH', message: 'Task killed before it was started', source: 'SOURCE_AGENT' });
      return;
    }
    // The sandbox is made and the start begins while TASK_STARTING is checkpointed (the update log keeps
    // the order of the updates after it); a kill asked for meanwhile is honoured once the task has
    // started, like one that comes during the start.
    const sandboxMade = mkdir(record.sandboxDir, { recursive: true, mode: 0o755 });
    sandboxMade.catch(() => undefined);
    const starting = this.send(record, 'TASK_STARTING', { source: 'SOURCE_EXECUTOR' });
    starting.catch(() => undefined); // awaited below, on both paths
    let handle: TaskHandle;
    try {
      await sandboxMade;
      handle = await executor.startTask(this.configFor(record));
    } catch (err) {
      await starting;
      if (this.stopped) return;
      this.logger.warn({ err, taskId: task.task_id }, 'task failed to start');
      await this.send(record, 'TASK_FAILED', { reason: 'REASON_CONTAINER_LAUNCH_FAILED', message: errorMessage(err), source: 'SOURCE_AGENT' });
      await this.track(
        executor.destroyTask(syntheticHandle(record)).catch((cleanupErr: unknown) => this.logger.warn({ err: cleanupErr, taskId: task.task_id }, 'cleanup after a failed start failed')),
      );
      this.pruneCompleted();
      return;
    }
    record.handle = handle;
    // Written even when the agent is stopping: it is the truth a restarted agent needs to find the task.
    await this.options.store.saveHandle(task.task_id, handle);
    await starting;
    if (this.stopped) return;
    if (record.kill) await this.startKill(record);
    else {
      await this.send(record, 'TASK_RUNNING', { source: 'SOURCE_EXECUTOR' });
      this.startHealth(record);
    }
    await this.watch(record, executor, handle);
  }

  private async watch(record: TaskRecord, executor: Executor, handle: TaskHandle): Promise<void> {
    let exit: ExitResult;
    let note: string | undefined;
    try {
      exit = await executor.waitTask(handle);
    } catch (err) {
      exit = { exitCode: null, signal: null, oomKilled: false };
      note = `lost track of the task: ${errorMessage(err)}`;
    }
    if (this.stopped) return;
    await this.finish(record, executor, exit, note);
  }

  private async finish(record: TaskRecord, executor: Executor | undefined, exit: ExitResult, note?: string): Promise<void> {
    if (isTerminal(record.state)) return;
    await this.stopHealth(record);
    if (isTerminal(record.state)) return;
    const notes = [record.killNote, note].filter((n): n is string => n !== undefined).join('; ');
    const final = finalStatusFor(record.task, exit, record.kill !== undefined, notes === '' ? undefined : notes);
    await this.send(record, final.state, {
      reason: final.reason,
      message: final.message,
      source: 'SOURCE_EXECUTOR',
      exitCode: final.exitCode,
    });
    this.logger.info({ taskId: record.task.task_id, state: final.state, message: final.message }, 'task ended');
    const handle = record.handle;
    if (executor && handle) {
      await this.track(
        (async () => {
          // The cgroup still holds the totals (CPU time, peak memory) until it is destroyed.
          record.lastStats = await executor.taskStats(handle).catch(() => undefined);
          await executor.destroyTask(handle).catch((err: unknown) => this.logger.warn({ err, taskId: record.task.task_id }, 'destroyTask failed'));
        })(),
      );
    }
    this.pruneCompleted();
  }

  private async startKill(record: TaskRecord): Promise<void> {
    const executor = this.options.executors[record.kind];
    const handle = record.handle;
    if (record.killing || !executor || !handle || isTerminal(record.state)) return;
    record.killing = true;
    await this.stopHealth(record);
    await this.send(record, 'TASK_KILLING', { source: 'SOURCE_AGENT' });
    if (this.stopped) return;
    const graceMs = record.kill?.graceMs ?? DEFAULT_KILL_GRACE_MS;
    // Not awaited: the grace period can be long; the waiter reports TASK_KILLED when it is dead.
    void executor.stopTask(handle, graceMs).catch((err: unknown) => this.logger.error({ err, taskId: record.task.task_id }, 'stopTask failed'));
  }

  private configFor(record: TaskRecord): TaskConfig {
    const { task } = record;
    const agentId = this.options.agentId() ?? task.agent_id;
    const limits: ContainerLimits = { cpus: task.resources.cpus, memBytes: Math.round(task.resources.mem * 1024 * 1024) };
    if (task.resources.pids !== undefined) limits.pids = task.resources.pids;
    const env: Record<string, string> = {
      TESSERA_TASK_ID: task.task_id,
      TESSERA_AGENT_ID: agentId,
      MESOS_TASK_ID: task.task_id,
      MESOS_AGENT_ID: agentId,
    };
    // Docker containers see the sandbox at /mnt/mesos/sandbox; the Docker executor sets that itself.
    if (record.kind === 'command') env.MESOS_SANDBOX = record.sandboxDir;
    return { task, agentId, containerId: record.containerId, sandboxDir: record.sandboxDir, limits, env };
  }

  // ---- health checks ----------------------------------------------------------------------------

  private startHealth(record: TaskRecord): void {
    const check = record.task.health_check;
    const context = this.options.health;
    if (!check || !context || !record.handle || record.health || this.stopped) return;
    const checker = new HealthChecker({
      taskId: record.task.task_id,
      check,
      startedAtMs: record.handle.startedAt,
      probe: probeFor(check, { task: record.task, kind: record.kind, containerId: record.containerId, sandboxDir: record.sandboxDir, handle: record.handle }, context),
      onEvent: (event) => this.onHealth(record, event),
      clock: this.clock,
      logger: this.logger,
    });
    record.health = checker;
    checker.start();
  }

  private async stopHealth(record: TaskRecord): Promise<void> {
    const checker = record.health;
    if (!checker) return;
    await checker.stop();
  }

  private async onHealth(record: TaskRecord, event: HealthEvent): Promise<void> {
    if (this.stopped || record.state !== 'TASK_RUNNING' || record.kill) return;
    switch (event.kind) {
      case 'health':
        record.healthy = event.healthy;
        this.logger.info({ taskId: record.task.task_id, healthy: event.healthy, message: event.message }, 'task health changed');
        await this.send(record, 'TASK_RUNNING', {
          reason: HEALTH_REASON,
          message: event.healthy ? 'Task is healthy' : `Task is unhealthy: health check ${event.message}`,
          source: 'SOURCE_EXECUTOR',
        });
        return;
      case 'kill':
        this.logger.warn({ taskId: record.task.task_id, message: event.message }, 'killing an unhealthy task');
        record.killNote = event.message;
        await this.kill(record.task.task_id);
        return;
      default:
        assertNever(event);
    }
  }

  /** Checks the transition, records it and hands it to the status update manager (which checkpoints it first). */
  private async send(record: TaskRecord, state: TaskState, fields: UpdateFields): Promise<void> {
    if (this.stopped) return;
    // RUNNING → RUNNING is no transition: it is how a health check result travels.
    const healthUpdate = state === 'TASK_RUNNING' && record.state === 'TASK_RUNNING' && fields.reason === HEALTH_REASON;
    if (!healthUpdate) assertTransition(record.task.task_id, record.state, state);
    record.state = state;
    const agentId = this.options.agentId() ?? record.task.agent_id;
    const container_status: NonNullable<TaskStatus['container_status']> = { container_id: record.containerId };
    if (fields.exitCode !== undefined) container_status.exit_code = fields.exitCode;
    const update: TaskStatus = {
      task_id: record.task.task_id,
      agent_id: agentId,
      state,
      source: fields.source ?? 'SOURCE_AGENT',
      timestamp: epochSeconds(this.clock),
      uuid: this.ids.uuid(),
      container_status,
    };
    if (fields.reason !== undefined) update.reason = fields.reason;
    if (fields.message !== undefined) update.message = fields.message;
    if (record.healthy !== undefined) update.healthy = record.healthy;
    record.statuses.push(update);
    await this.options.statusUpdates.enqueue(update);
  }

  /** Something unexpected broke a task's flow: report it failed rather than leave it hanging. */
  private crashed(record: TaskRecord, err: unknown): void {
    this.logger.error({ err, taskId: record.task.task_id }, 'task handling failed');
    if (this.stopped || isTerminal(record.state)) return;
    void this.fail(record, 'REASON_EXECUTOR_TERMINATED', `agent error: ${errorMessage(err)}`).catch((failErr: unknown) =>
      this.logger.error({ err: failErr, taskId: record.task.task_id }, 'could not report the task failed'),
    );
  }

  /** Forgets the oldest completed tasks whose updates are all acknowledged (their sandboxes stay). */
  private pruneCompleted(): void {
    const max = this.options.maxCompletedTasks ?? DEFAULT_MAX_COMPLETED_TASKS;
    const completed = this.list().filter((r) => isTerminal(r.state));
    let excess = completed.length - max;
    for (const record of completed) {
      if (excess <= 0) break;
      if (this.options.statusUpdates.hasPending(record.task.task_id)) continue;
      this.tasks.delete(record.task.task_id);
      excess--;
      void this.options.store.removeTask(record.task.task_id).catch((err: unknown) => this.logger.warn({ err }, 'could not remove a task checkpoint'));
    }
  }
}

function syntheticHandle(record: TaskRecord): TaskHandle {
  return { kind: record.kind, taskId: record.task.task_id, containerId: record.containerId, sandboxDir: record.sandboxDir, startedAt: 0 };
}
