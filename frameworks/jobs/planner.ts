// The pure decisions of the jobs scheduler: which occurrences are due now and which were missed beyond
// epsilon, whether a dependent job's parents all succeeded since its last run, what a finished attempt
// leads to. No I/O and no clock: `now` comes in, a new status comes out.
import type { TaskReason, TaskState } from '../../common/index.js';
import { decideRetry, type RetryPolicyOptions } from './retry-policy.js';
import { nextOccurrence, type Schedule } from './schedule.js';
import { withRecord, type ActiveRun, type JobStatus, type RunRecord, type RunTrigger } from './job-status.js';

/** Beyond this many missed occurrences, skips are folded into one record and the rest jumped over. */
const MAX_SKIP_WALK = 1_000;

export interface ScheduleStep {
  status: JobStatus;
  /** Occurrence to run now, if any (its run is already in `status.active`). */
  due?: number;
  skipped: RunRecord[];
}

/** At most this many occurrences wait behind an active run; beyond it the oldest are skipped. */
const MAX_WAITING = 100;

/**
 * Moves a scheduled job's `nextDueAt` past `now`. Occurrences older than `epsilonMs` are skipped and
 * recorded; the others wait their turn (`status.waiting`) and the oldest waiting one becomes the active run
 * as soon as no run is active. A waiting occurrence is skipped only once it is `epsilonMs` past its time
 * without having started (the previous run still in progress). A disabled job runs and records nothing.
 */
export function stepSchedule(name: string, status: JobStatus, schedule: Schedule, epsilonMs: number, now: number, disabled: boolean): ScheduleStep {
  let s = status;
  const skipped: RunRecord[] = [];
  const skip = (at: number, message: string, count?: number): void => {
    const record: RunRecord = { runId: `${name}:skip:${at}`, trigger: 'schedule', scheduledFor: at, outcome: 'skipped', attempts: 0, finishedAt: now, message };
    if (count !== undefined) record.count = count;
    skipped.push(record);
    s = withRecord(s, record);
  };
  let next = s.nextDueAt;
  let walked = 0;
  const dueNow: number[] = [];
  while (next !== undefined && next <= now) {
    if (now - next > epsilonMs) {
      if (++walked > MAX_SKIP_WALK) {
        const resume = nextOccurrence(schedule, now - epsilonMs);
        skip(next, `missed by more than epsilon (many occurrences; jumped to ${resume === undefined ? 'the end' : new Date(resume).toISOString()})`);
        next = resume;
        continue;
      }
      if (!disabled) skip(next, 'missed by more than epsilon');
    } else if (!disabled) dueNow.push(next);
    next = nextOccurrence(schedule, next + 1);
  }
  s = { ...s, ...(next === undefined ? { nextDueAt: undefined } : { nextDueAt: next }) };
  if (next === undefined) delete s.nextDueAt;
  if (disabled) return { status: withWaiting(s, []), skipped };

  const busy = s.active === undefined ? '' : `: previous run ${s.active.runId} still in progress`;
  const waiting: number[] = [];
  for (const at of [...(s.waiting ?? []), ...dueNow]) {
    if (now - at > epsilonMs) skip(at, `not started within epsilon${busy}`);
    else waiting.push(at);
  }
  while (waiting.length > MAX_WAITING) skip(waiting.shift() as number, `more than ${MAX_WAITING} occurrences waiting${busy}`);
  let due: number | undefined;
  if (s.active === undefined && waiting.length > 0) {
    due = waiting.shift() as number;
    s = startRun(name, s, 'schedule', due, due + epsilonMs);
  }
  s = withWaiting(s, waiting);
  return due === undefined ? { status: s, skipped } : { status: s, due, skipped };
}

/** The status with `waiting` set (the field left out when empty, so idle statuses stay unchanged). */
function withWaiting(status: JobStatus, waiting: number[]): JobStatus {
  if (waiting.length > 0) return { ...status, waiting };
  if (status.waiting === undefined) return status;
  const { waiting: _none, ...rest } = status;
  void _none;
  return rest;
}

/** Queues a new run (persisted before any launch). */
export function startRun(name: string, status: JobStatus, trigger: RunTrigger, scheduledFor: number, launchBy?: number): JobStatus {
  const runSeq = status.runSeq + 1;
  const active: ActiveRun = { runId: `${name}:${runSeq}`, trigger, scheduledFor, attempt: 1, phase: 'queued' };
  if (launchBy !== undefined) active.launchBy = launchBy;
  return { ...status, runSeq, active };
}

/** A dependent job is ready once every parent succeeded after its last trigger. */
export function dependencyReady(status: JobStatus, parents: ReadonlyArray<JobStatus | undefined>): boolean {
  if (status.active !== undefined) return false;
  const since = status.lastTriggeredAt ?? status.createdAt;
  return parents.length > 0 && parents.every((p) => p?.lastSuccess !== undefined && p.lastSuccess > since);
}

/** A queued scheduled run that found no offer within epsilon is skipped. */
export function expireQueued(status: JobStatus, now: number): JobStatus {
  const a = status.active;
  if (!a || a.phase !== 'queued' || a.launchBy === undefined || now <= a.launchBy) return status;
  const { active: _dropped, ...rest } = status;
  void _dropped;
  return withRecord(rest, {
    runId: a.runId,
    trigger: a.trigger,
    scheduledFor: a.scheduledFor,
    outcome: 'skipped',
    attempts: 0,
    finishedAt: now,
    message: 'not launched within epsilon (no suitable offer)',
  });
}

export type AttemptResult =
  | { kind: 'success'; status: JobStatus; record: RunRecord }
  | { kind: 'retry'; status: JobStatus }
  | { kind: 'failure'; status: JobStatus; record: RunRecord };

/** What a terminal task state of the active attempt means for the job. */
export function finishAttempt(
  status: JobStatus,
  retries: number,
  state: TaskState,
  message: string | undefined,
  now: number,
  retryOptions: RetryPolicyOptions = {},
): AttemptResult | undefined {
  const a = status.active;
  if (!a) return undefined;
  const base = {
    runId: a.runId,
    trigger: a.trigger,
    scheduledFor: a.scheduledFor,
    attempts: a.attempt,
    finishedAt: now,
    ...(a.taskId === undefined ? {} : { taskId: a.taskId }),
    ...(a.agentId === undefined ? {} : { agentId: a.agentId }),
    ...(a.startedAt === undefined ? {} : { startedAt: a.startedAt }),
    ...(message === undefined || message === '' ? {} : { message }),
  };
  const { active: _done, ...rest } = status;
  void _done;
  if (state === 'TASK_FINISHED') {
    const record: RunRecord = { ...base, outcome: 'success' };
    return { kind: 'success', record, status: withRecord({ ...rest, successCount: rest.successCount + 1, errorsSinceLastSuccess: 0, lastSuccess: now }, record) };
  }
  const decision = decideRetry(a.attempt, retries, retryOptions);
  if (decision.retry) {
    const next: ActiveRun = { ...a, attempt: decision.nextAttempt, phase: 'retry-wait', notBefore: now + decision.delayMs };
    delete next.taskId;
    delete next.agentId;
    delete next.attemptStartedAt;
    return { kind: 'retry', status: { ...rest, active: next } };
  }
  const record: RunRecord = { ...base, outcome: 'failure', message: `${state}${message ? `: ${message}` : ''}` };
  return {
    kind: 'failure',
    record,
    status: withRecord({ ...rest, errorCount: rest.errorCount + 1, errorsSinceLastSuccess: rest.errorsSinceLastSuccess + 1, lastError: now }, record),
  };
}

/**
 * The active attempt never reached an agent (its ACCEPT was lost or refused; the master answers
 * reconciliation with TASK_LOST, or drops the launch): it goes back to waiting for an offer at once, as
 * the same attempt — no backoff and no retry used up, since nothing ran.
 */
export function unlaunchAttempt(status: JobStatus, now: number): JobStatus {
  const a = status.active;
  if (!a || a.phase !== 'launching') return status;
  const active: ActiveRun = { ...a, phase: a.attempt > 1 ? 'retry-wait' : 'queued', notBefore: now };
  delete active.taskId;
  delete active.agentId;
  delete active.attemptStartedAt;
  // The first attempt never started, so the run has no start time yet.
  if (a.attempt === 1) delete active.startedAt;
  return { ...status, active };
}

/** Whether a terminal update for an attempt still in `launching` means the task never reached an agent. */
export function neverLaunched(phase: ActiveRun['phase'], state: TaskState, reason: TaskReason | undefined): boolean {
  if (phase !== 'launching') return false;
  return (state === 'TASK_LOST' && reason === 'REASON_RECONCILIATION') || (state === 'TASK_DROPPED' && reason === 'REASON_INVALID_OFFERS');
}

/** Whether the active run waits for an offer now. */
export function isLaunchable(status: JobStatus, now: number): boolean {
  const a = status.active;
  if (!a) return false;
  if (a.phase === 'queued') return true;
  return a.phase === 'retry-wait' && (a.notBefore ?? 0) <= now;
}
