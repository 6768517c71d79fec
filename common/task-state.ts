// Task states and the only transitions between them (Mesos v1 names). An illegal transition is a bug.

export const TASK_STATES = [
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_GONE',
  'TASK_DROPPED',
] as const;

export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_GONE',
  'TASK_DROPPED',
]);

const TERMINAL = [...TERMINAL_STATES];

/** Which state may follow which. Terminal states have no successors. */
export const TASK_TRANSITIONS: Record<TaskState, readonly TaskState[]> = {
  TASK_STAGING: ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', ...TERMINAL],
  TASK_STARTING: ['TASK_RUNNING', 'TASK_KILLING', ...TERMINAL],
  TASK_RUNNING: ['TASK_KILLING', ...TERMINAL],
  TASK_KILLING: ['TASK_KILLED', 'TASK_FINISHED', 'TASK_FAILED', 'TASK_LOST', 'TASK_GONE'],
  TASK_FINISHED: [],
  TASK_FAILED: [],
  TASK_KILLED: [],
  TASK_ERROR: [],
  TASK_LOST: [],
  TASK_GONE: [],
  TASK_DROPPED: [],
};

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

export class IllegalTransitionError extends Error {
  readonly code = 'ILLEGAL_TRANSITION';
  constructor(
    readonly taskId: string,
    readonly from: TaskState,
    readonly to: TaskState,
  ) {
    super(`task ${taskId}: illegal transition ${from} -> ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

/** Throws IllegalTransitionError unless `to` may follow `from`. */
export function assertTransition(taskId: string, from: TaskState, to: TaskState): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(taskId, from, to);
}

/** Reasons attached to status updates (a subset of Mesos's TaskStatus.Reason). */
export const TASK_REASONS = [
  'REASON_COMMAND_EXECUTOR_FAILED',
  'REASON_CONTAINER_LIMITATION',
  'REASON_CONTAINER_LIMITATION_MEMORY',
  'REASON_CONTAINER_LAUNCH_FAILED',
  'REASON_EXECUTOR_TERMINATED',
  'REASON_TASK_INVALID',
  'REASON_TASK_KILLED_DURING_LAUNCH',
  'REASON_AGENT_REMOVED',
  'REASON_AGENT_DISCONNECTED',
  'REASON_AGENT_RESTARTED',
  'REASON_AGENT_UNKNOWN',
  'REASON_RECONCILIATION',
  'REASON_INVALID_OFFERS',
  'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED',
] as const;

export type TaskReason = (typeof TASK_REASONS)[number];

export type StatusSource = 'SOURCE_MASTER' | 'SOURCE_AGENT' | 'SOURCE_EXECUTOR';
