// What the framework remembers about each job besides its definition (stored under `status/<name>`):
// counters as Chronos reports them, the next due time, the run in progress, recent history.

export type RunTrigger = 'schedule' | 'dependency' | 'manual';

/** queued: waiting for an offer; launching: persisted with a task id, ACCEPT sent; retry-wait: backing off. */
export type RunPhase = 'queued' | 'launching' | 'running' | 'retry-wait';

export interface ActiveRun {
  runId: string;
  trigger: RunTrigger;
  /** The occurrence it stands for (schedule) or when it was asked for. */
  scheduledFor: number;
  /** A scheduled run not launched by then is skipped (scheduledFor + epsilon). */
  launchBy?: number;
  /** 1-based. */
  attempt: number;
  phase: RunPhase;
  notBefore?: number;
  taskId?: string;
  agentId?: string;
  /** When the first attempt was launched. */
  startedAt?: number;
  attemptStartedAt?: number;
}

export type RunOutcome = 'success' | 'failure' | 'skipped';

export interface RunRecord {
  runId: string;
  trigger: RunTrigger;
  scheduledFor: number;
  outcome: RunOutcome;
  attempts: number;
  taskId?: string;
  agentId?: string;
  startedAt?: number;
  finishedAt: number;
  message?: string;
  /** Skips folded into one record (a long outage). */
  count?: number;
}

export interface JobStatus {
  createdAt: number;
  successCount: number;
  errorCount: number;
  errorsSinceLastSuccess: number;
  lastSuccess?: number;
  lastError?: number;
  /** Scheduled jobs: the next occurrence not yet acted on; undefined once the schedule is used up. */
  nextDueAt?: number;
  /** Dependent jobs: parents must have succeeded after this (creation, or the last trigger). */
  lastTriggeredAt?: number;
  active?: ActiveRun;
  /**
   * Scheduled jobs: occurrences (ms, oldest first) that came due while a run was active. Each waits its
   * turn and is skipped only if it has not started `epsilon` after its time (a slow or retried run, or
   * one a new leader is still reconciling, must not make later ones miss their window).
   */
  waiting?: number[];
  /** Oldest first, at most HISTORY_LIMIT. */
  history: RunRecord[];
  /** Numbers runs: `<name>:<seq>`. */
  runSeq: number;
}

export const HISTORY_LIMIT = 50;

export function newStatus(now: number): JobStatus {
  return { createdAt: now, successCount: 0, errorCount: 0, errorsSinceLastSuccess: 0, history: [], runSeq: 0, lastTriggeredAt: now };
}

export function withRecord(status: JobStatus, record: RunRecord): JobStatus {
  return { ...status, history: [...status.history, record].slice(-HISTORY_LIMIT) };
}
