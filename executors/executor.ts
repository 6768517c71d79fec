// The Executor contract, shaped like a Nomad task driver. A TaskHandle is plain JSON: the agent
// checkpoints it and hands it back to recoverTask() after a restart.
import type { ResourceStatistics, TaskInfo } from '../common/index.js';
import type { ContainerLimits } from '../isolators/index.js';

export type ExecutorKind = 'command' | 'docker';

export interface TaskConfig {
  task: TaskInfo;
  agentId: string;
  /** Unique per launch (uuid); names the cgroup / container. */
  containerId: string;
  /** Exists before startTask; stdout and stderr land here as files `stdout` and `stderr`. */
  sandboxDir: string;
  limits: ContainerLimits;
  /** Extra environment (TESSERA_TASK_ID, MESOS_SANDBOX, …) on top of the task's own. */
  env: Record<string, string>;
}

/** Everything needed to find a task again after an agent restart. JSON-serialisable. */
export interface TaskHandle {
  kind: ExecutorKind;
  taskId: string;
  containerId: string;
  sandboxDir: string;
  /** command: the wrapper process's pid (also its process group id). */
  pid?: number;
  /** docker: the Docker container id. */
  dockerId?: string;
  /** Milliseconds since the epoch. */
  startedAt: number;
}

export interface ExitResult {
  /** null when killed by a signal or unknown. */
  exitCode: number | null;
  signal: string | null;
  /** The kernel killed it for exceeding its memory limit. */
  oomKilled: boolean;
  /** Human-readable detail, e.g. "exited while the agent was down". */
  message?: string;
}

export type RecoveredTask = { running: true } | { running: false; exit: ExitResult };

export interface TaskInspection {
  running: boolean;
  pid?: number;
  exit?: ExitResult;
}

export interface ExecOptions {
  /** On top of the task's own environment. */
  env?: Record<string, string>;
  /** The command is killed (with whatever it forked) after this long. */
  timeoutMs: number;
  /** Aborting kills the command; execTask then resolves once it is gone. */
  signal: AbortSignal;
}

export interface ExecResult {
  /** null when it was killed by a signal (timeout, abort) or the exit status is unknown. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The tail (at most 4 KiB) of its stdout and stderr together. */
  output: string;
}

/** How much of an exec's output execTask keeps: the tail. */
export const EXEC_OUTPUT_MAX = 4096;

export interface Executor {
  readonly kind: ExecutorKind;
  /** Starts the task under its limits. Throws ExecutorError (e.g. IMAGE_NOT_FOUND) if it cannot start. */
  startTask(config: TaskConfig): Promise<TaskHandle>;
  /** Resolves once the task has ended (also for a recovered task). Safe to call more than once. */
  waitTask(handle: TaskHandle): Promise<ExitResult>;
  /** SIGTERM (or `signal`), then SIGKILL of everything left after `timeoutMs`. Resolves once it is dead. */
  stopTask(handle: TaskHandle, timeoutMs: number, signal?: NodeJS.Signals): Promise<void>;
  /** Removes the container / cgroup and anything left running. Idempotent. */
  destroyTask(handle: TaskHandle): Promise<void>;
  /** After an agent restart: re-attach to a running task, or say how it ended. */
  recoverTask(handle: TaskHandle): Promise<RecoveredTask>;
  /**
   * Tasks this executor can find without a checkpoint, e.g. Docker containers labelled with this
   * agent's id. The agent destroys the ones it has no record of (orphans).
   */
  findTasks(agentId: string): Promise<TaskHandle[]>;
  inspectTask(handle: TaskHandle): Promise<TaskInspection>;
  taskStats(handle: TaskHandle): Promise<ResourceStatistics>;
  /**
   * Runs argv inside the running task's container (Nomad's ExecTask): its cgroup / container, its
   * environment (plus options.env), its user, in its sandbox. Resolves with how it ended, also for a
   * failing or killed command; rejects (ExecutorError) only when it cannot run at all. Resolves once
   * the command is gone.
   */
  execTask(handle: TaskHandle, argv: string[], options: ExecOptions): Promise<ExecResult>;
  /**
   * The address the task listens on when it has one of its own (a container on a bridge network);
   * undefined: it shares this host's network.
   */
  taskAddress(handle: TaskHandle): Promise<string | undefined>;
}
