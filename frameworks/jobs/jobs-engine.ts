// The jobs framework's state machine: definitions and statuses in memory, every change written to the
// store BEFORE it takes effect (a run is recorded as queued before it can launch, its task id before the
// ACCEPT goes out), so a new leader loading the store neither runs an occurrence twice nor loses one.
// All mutations run one at a time. No Mesos here: jobs-scheduler.ts connects this to offers and updates.
import {
  ConflictError,
  NotFoundError,
  isTerminal,
  systemClock,
  type Clock,
  type Logger,
  type TaskReason,
  type TaskState,
} from '../../common/index.js';
import { checkParents, childrenOf, type JobGraph } from './dependency-graph.js';
import { epsilonMs, jobSchedule, validateJob, type JobDefinition, type JobKind } from './job-definition.js';
import { newStatus, type ActiveRun, type JobStatus, type RunRecord } from './job-status.js';
import { dependencyReady, expireQueued, finishAttempt, isLaunchable, neverLaunched, startRun, stepSchedule, unlaunchAttempt } from './planner.js';
import type { RetryPolicyOptions } from './retry-policy.js';
import { nextOccurrence } from './schedule.js';

/** The store port (the runtime's StateStore fits it). */
export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<string[]>;
}

export interface JobsEngineOptions {
  store: KeyValueStore;
  logger: Logger;
  clock?: Clock;
  retry?: RetryPolicyOptions;
  /**
   * Awaited BEFORE a finished run's record is written (the webhook outbox stores its delivery here):
   * a crash between the two writes can then only repeat a notification, never lose it. If it throws,
   * the record is not written either and the update fails (as when the store refuses the record).
   */
  beforeFinish?: (run: FinishedRun) => Promise<void>;
}

/** A run that ended (after its retries): what webhooks report. */
export interface FinishedRun {
  job: JobDefinition;
  record: RunRecord;
  status: JobStatus;
}

export interface JobEntry {
  job: JobDefinition;
  status: JobStatus;
}

export interface LaunchableRun {
  job: JobDefinition;
  run: ActiveRun;
}

const JOB_PREFIX = 'jobs/';
const STATUS_PREFIX = 'status/';

export class JobsEngine {
  private readonly jobs = new Map<string, JobDefinition>();
  private readonly statuses = new Map<string, JobStatus>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly finishedListeners: Array<(run: FinishedRun) => void> = [];
  private readonly changeListeners: Array<() => void> = [];
  private readonly clock: Clock;

  private constructor(private readonly options: JobsEngineOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Loads every job and status from the store (what a newly elected leader does). */
  static async load(options: JobsEngineOptions): Promise<JobsEngine> {
    const engine = new JobsEngine(options);
    const now = engine.clock.now();
    for (const key of await options.store.list(JOB_PREFIX)) {
      const name = key.startsWith(JOB_PREFIX) ? key.slice(JOB_PREFIX.length) : key;
      const job = await options.store.get<JobDefinition>(`${JOB_PREFIX}${name}`);
      if (!job) continue;
      engine.jobs.set(name, job);
      const status = (await options.store.get<JobStatus>(`${STATUS_PREFIX}${name}`)) ?? engine.initialStatus(job, now);
      engine.statuses.set(name, status);
    }
    return engine;
  }

  onFinished(listener: (run: FinishedRun) => void): void {
    this.finishedListeners.push(listener);
  }

  /** Something may now want offers (a run queued, a retry due). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  list(): JobEntry[] {
    return [...this.jobs.values()].map((job) => ({ job, status: this.statusOf(job.name) }));
  }

  get(name: string): JobEntry {
    const job = this.jobs.get(name);
    if (!job) throw new NotFoundError('job', name);
    return { job, status: this.statusOf(name) };
  }

  /** Creates or replaces a job (POST /v1/scheduler/iso8601 | dependency). */
  upsert(body: unknown, kind: JobKind): Promise<JobDefinition> {
    return this.serial(async () => {
      const job = validateJob(body, kind);
      checkParents(this.graphWithout(job.name), job.name, job.parents ?? []);
      const now = this.clock.now();
      const previous = this.jobs.get(job.name);
      const old = this.statuses.get(job.name);
      let status: JobStatus;
      if (old === undefined || previous === undefined) status = this.initialStatus(job, now);
      else if (previous.schedule !== job.schedule || previous.scheduleTimeZone !== job.scheduleTimeZone) {
        status = { ...old, ...this.scheduleStart(job, now) };
        if (status.nextDueAt === undefined) delete status.nextDueAt;
        // Occurrences of the old schedule waiting their turn are not the new schedule's.
        delete status.waiting;
      } else status = old;
      await this.options.store.put(`${JOB_PREFIX}${job.name}`, job);
      await this.options.store.put(`${STATUS_PREFIX}${job.name}`, status);
      this.jobs.set(job.name, job);
      this.statuses.set(job.name, status);
      this.options.logger.info({ job: job.name, nextDueAt: status.nextDueAt }, previous ? 'job replaced' : 'job added');
      return job;
    });
  }

  /** Deletes a job; returns its task in flight (to kill). A job other jobs depend on cannot go. */
  remove(name: string): Promise<ActiveRun | undefined> {
    return this.serial(async () => {
      this.get(name);
      const children = childrenOf(this.graphWithout(undefined), name);
      if (children.length > 0) throw new ConflictError(`job '${name}' is a parent of ${children.map((c) => `'${c}'`).join(', ')}; remove those first`);
      const active = this.statuses.get(name)?.active;
      await this.options.store.delete(`${JOB_PREFIX}${name}`);
      await this.options.store.delete(`${STATUS_PREFIX}${name}`);
      this.jobs.delete(name);
      this.statuses.delete(name);
      this.options.logger.info({ job: name }, 'job removed');
      return active;
    });
  }

  /** Queues a run now (PUT /v1/scheduler/job/{name}). */
  runNow(name: string): Promise<ActiveRun> {
    return this.serial(async () => {
      const { status } = this.get(name);
      if (status.active) throw new ConflictError(`job '${name}' has a run in progress (${status.active.runId})`);
      const next = startRun(name, status, 'manual', this.clock.now());
      await this.save(name, next);
      this.changed();
      return next.active as ActiveRun;
    });
  }

  /** Advances every job to now: queues due and dependent runs, records skips, expires stale queued runs. */
  tick(): Promise<void> {
    return this.serial(async () => {
      const now = this.clock.now();
      let queued = false;
      for (const job of this.jobs.values()) {
        const before = this.statusOf(job.name);
        let status = expireQueued(before, now);
        const schedule = jobSchedule(job);
        if (schedule) {
          const step = stepSchedule(job.name, status, schedule, epsilonMs(job), now, job.disabled);
          status = step.status;
          for (const s of step.skipped) this.options.logger.warn({ job: job.name, scheduledFor: new Date(s.scheduledFor).toISOString(), why: s.message }, 'run skipped');
          if (step.due !== undefined) queued = true;
        } else if (!job.disabled && dependencyReady(status, (job.parents ?? []).map((p) => this.statuses.get(p)))) {
          status = { ...startRun(job.name, status, 'dependency', now), lastTriggeredAt: now };
          queued = true;
        }
        if (status !== before) await this.save(job.name, status);
      }
      if (queued || this.launchable().length > 0) this.changed();
    });
  }

  /** Runs waiting for an offer now, in a stable order. */
  launchable(): LaunchableRun[] {
    const now = this.clock.now();
    const out: LaunchableRun[] = [];
    for (const job of this.jobs.values()) {
      const status = this.statusOf(job.name);
      if (status.active && isLaunchable(status, now)) out.push({ job, run: status.active });
    }
    return out;
  }

  /** Records the task id of the run's next attempt; call (and await) BEFORE sending the ACCEPT. */
  markLaunching(name: string, runId: string, taskId: string, agentId: string): Promise<boolean> {
    return this.serial(async () => {
      const status = this.statuses.get(name);
      const a = status?.active;
      if (!status || !a || a.runId !== runId || !isLaunchable(status, this.clock.now())) return false;
      const now = this.clock.now();
      const active: ActiveRun = { ...a, phase: 'launching', taskId, agentId, attemptStartedAt: now, startedAt: a.startedAt ?? now };
      delete active.notBefore;
      await this.save(name, { ...status, active });
      return true;
    });
  }

  /** The ACCEPT failed (offer gone): the attempt never started; it waits for another offer. */
  revertLaunch(taskId: string): Promise<void> {
    return this.serial(async () => {
      const found = this.findByTask(taskId);
      if (!found || found.status.active?.phase !== 'launching') return;
      await this.save(found.name, unlaunchAttempt(found.status, this.clock.now()));
      this.changed();
    });
  }

  /** A task status update from the master. Returns false when the task is not one of ours (to kill). */
  onTaskStatus(update: { taskId: string; state: TaskState; reason?: TaskReason; message?: string; agentId?: string }): Promise<boolean> {
    return this.serial(async () => {
      const found = this.findByTask(update.taskId);
      if (!found) return false;
      const { name, status } = found;
      const job = this.jobs.get(name) as JobDefinition;
      const active = status.active as ActiveRun;
      if (!isTerminal(update.state)) {
        if (active.phase !== 'running') await this.save(name, { ...status, active: { ...active, phase: 'running', ...(update.agentId ? { agentId: update.agentId } : {}) } });
        return true;
      }
      if (neverLaunched(active.phase, update.state, update.reason)) {
        // Its ACCEPT never reached the master (e.g. the leader died right after recording the task id):
        // launch the same attempt again now rather than back off, so later occurrences keep their window.
        await this.save(name, unlaunchAttempt(status, this.clock.now()));
        this.options.logger.info({ job: name, taskId: update.taskId, state: update.state, reason: update.reason }, 'attempt never launched; launching it again');
        this.changed();
        return true;
      }
      const result = finishAttempt(status, job.retries, update.state, update.message, this.clock.now(), this.options.retry);
      if (!result) return true;
      if (result.kind !== 'retry') await this.options.beforeFinish?.({ job, record: result.record, status: result.status });
      await this.save(name, result.status);
      this.options.logger.info({ job: name, taskId: update.taskId, state: update.state, result: result.kind }, 'attempt finished');
      if (result.kind === 'retry') this.changed();
      else for (const listener of this.finishedListeners) listener({ job, record: result.record, status: result.status });
      return true;
    });
  }

  /** Tasks in flight, for reconciliation after (re)subscribing. */
  activeTasks(): Array<{ taskId: string; agentId?: string }> {
    const out: Array<{ taskId: string; agentId?: string }> = [];
    for (const status of this.statuses.values()) {
      const a = status.active;
      if (a?.taskId) out.push(a.agentId === undefined ? { taskId: a.taskId } : { taskId: a.taskId, agentId: a.agentId });
    }
    return out;
  }

  /** Resolves once every mutation queued so far has finished. */
  idle(): Promise<void> {
    return this.serial(async () => undefined);
  }

  private findByTask(taskId: string): { name: string; status: JobStatus } | undefined {
    for (const [name, status] of this.statuses) if (status.active?.taskId === taskId) return { name, status };
    return undefined;
  }

  private statusOf(name: string): JobStatus {
    return this.statuses.get(name) ?? newStatus(this.clock.now());
  }

  private initialStatus(job: JobDefinition, now: number): JobStatus {
    const status: JobStatus = { ...newStatus(now), ...this.scheduleStart(job, now) };
    if (status.nextDueAt === undefined) delete status.nextDueAt;
    return status;
  }

  private scheduleStart(job: JobDefinition, now: number): { nextDueAt?: number } {
    const schedule = jobSchedule(job);
    if (!schedule) return {};
    const next = nextOccurrence(schedule, now);
    return next === undefined ? {} : { nextDueAt: next };
  }

  private graphWithout(name: string | undefined): JobGraph {
    const graph = new Map<string, readonly string[]>();
    for (const job of this.jobs.values()) if (job.name !== name) graph.set(job.name, job.parents ?? []);
    return graph;
  }

  private async save(name: string, status: JobStatus): Promise<void> {
    await this.options.store.put(`${STATUS_PREFIX}${name}`, status);
    this.statuses.set(name, status);
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
