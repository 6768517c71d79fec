// What a master does while it leads: admits agents, keeps the task view, places waiting tasks first-fit
// and launches them on agents over HTTP, and keeps the registry. A Leader lives for one term: it is
// made from the registry when its master is elected (or starts standalone) and thrown away, never
// reused, when leadership ends, so nothing of a past term can act in a later one.
import {
  NotFoundError,
  TesseraError,
  compileValidator,
  epochSeconds,
  errorMessage,
  registerRequestSchema,
  statusUpdateBatchRequestSchema,
  statusUpdateRequestSchema,
  taskIdFor,
  assertNever,
  isTerminal,
  type Clock,
  type HeartbeatResponse,
  type IdSource,
  type Logger,
  type RegisterResponse,
  type StatusUpdateBatchResponse,
  type StatusUpdateResponse,
  type TaskInfo,
  type TaskReason,
  type TaskState,
  type TaskSubmission,
  type TaskView,
  type TimerHandle,
} from '../common/index.js';
import { AgentManager, agentRef, classifyFailure, type AgentClient, type AgentRecord } from './agents/index.js';
import { FRAMEWORK_ID } from './framework.js';
import type { MetricsSnapshot } from './metrics.js';
import { buildMasterState, type MasterIdentity, type MasterState } from './operator-state.js';
import { placeTasks, sumResources, type ScalarResources } from './placement/index.js';
import type { Registry, RegistryState, TaskRecord } from './registry/index.js';
import { executorFor, validateSubmission } from './submission.js';
import { TaskStore, masterStatus } from './tasks/index.js';

export interface LeaderOptions {
  registry: Registry;
  identity: MasterIdentity;
  logger: Logger;
  clock: Clock;
  ids: IdSource;
  client: AgentClient;
  agentTimeoutMs: number;
  /** How long an agent known from the registry has to re-register before it is removed. */
  agentReregisterTimeoutMs: number;
  heartbeatIntervalMs: number;
  completedLimit: number;
}

/** A task-API task that has not ended, as the registry keeps it; `seq` keeps FIFO order in memory. */
interface LiveRecord extends TaskRecord {
  seq: number;
  /** Came from the registry without an agent: held until every recovering agent is settled. */
  recovered?: boolean;
}

/** How long an agent that refused a launch connection is left out of placement. */
const REFUSED_PAUSE_MS = 5000;

const validateRegister = compileValidator(registerRequestSchema);
const validateStatusUpdate = compileValidator(statusUpdateRequestSchema);
const validateStatusUpdateBatch = compileValidator(statusUpdateBatchRequestSchema);

export class Leader {
  private readonly tasks: TaskStore;
  private readonly agents: AgentManager;
  /** Every task-API task that has not ended: what the registry holds besides the agents. */
  private readonly records = new Map<string, LiveRecord>();
  /** Records with an agent, by agent id (so a registration looks only at its own). */
  private readonly recordsByAgent = new Map<string, Set<string>>();
  /** Waiting for room, FIFO. */
  private queue: LiveRecord[] = [];
  /** Placed, launch call in flight: still persisted without an agent until the agent has it. */
  private readonly launching = new Map<string, LiveRecord>();
  private readonly killRequested = new Set<string>();
  /** Agents that refused a launch connection: not offered until this time (ms) or until they re-register. */
  private readonly refusedUntil = new Map<string, number>();
  private readonly retryTimers = new Set<TimerHandle>();
  private nextSeq = 0;
  private schedulePending = false;
  /** The registry write under way, and the one queued behind it (see persist()). */
  private saving: Promise<void> | undefined;
  private nextSave: Promise<void> | undefined;
  private sweepTimer: TimerHandle | undefined;
  /** Ended for good (stop or deposition): no placement, no launch, no registry write. */
  private ended = false;
  /** Not acting for now (ZooKeeper link lost): no placement, no sweep; resumes or ends. */
  private paused = false;
  readonly electedTime: number;

  private readonly registry: Registry;
  private readonly identity: MasterIdentity;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly ids: IdSource;
  private readonly client: AgentClient;
  private readonly agentTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;

  private constructor(options: LeaderOptions) {
    this.registry = options.registry;
    this.identity = options.identity;
    this.logger = options.logger;
    this.clock = options.clock;
    this.ids = options.ids;
    this.client = options.client;
    this.agentTimeoutMs = options.agentTimeoutMs;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs;
    this.electedTime = epochSeconds(options.clock);
    this.tasks = new TaskStore({
      logger: options.logger,
      completedLimit: options.completedLimit,
      onTerminal: (view) => this.forgetEnded(view.task_id),
    });
    this.agents = new AgentManager({
      tasks: this.tasks,
      clock: options.clock,
      ids: options.ids,
      logger: options.logger,
      agentTimeoutMs: options.agentTimeoutMs,
      agentReregisterTimeoutMs: options.agentReregisterTimeoutMs,
    });
  }

  /** Loads the registry and starts acting. */
  static async create(options: LeaderOptions): Promise<Leader> {
    const saved = await options.registry.load();
    const leader = new Leader(options);
    leader.recover(saved);
    leader.scheduleSweep();
    options.logger.info(
      { master_id: options.identity.id, agents: saved.agents.length, tasks: saved.tasks.length },
      'leading: registry loaded',
    );
    return leader;
  }

  /** Leadership ended (deposed or stopping): stop acting at once. In-flight calls finish harmlessly. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.sweepTimer) this.clock.clearTimeout(this.sweepTimer);
    for (const timer of this.retryTimers) this.clock.clearTimeout(timer);
    this.retryTimers.clear();
  }

  /** Standalone shutdown: one last registry write, then end. */
  async stop(): Promise<void> {
    if (this.ended) return;
    const state = this.registryState();
    this.end();
    // Let a save already under way land; later ones are dropped (`ended`).
    await this.registry.save(state).catch((err: unknown) => {
      this.logger.error({ err }, 'final registry save failed');
    });
  }

  /** The ZooKeeper link broke: act on nothing until resume() or end(). */
  pause(): void {
    this.paused = true;
  }

  /** Same session back: agents get a fresh timeout (they could not reach us meanwhile), then carry on. */
  resume(): void {
    if (this.ended) return;
    this.paused = false;
    this.agents.touchAll();
    this.schedule();
  }

  // ---- task API -------------------------------------------------------------------------------

  async submitTask(body: unknown): Promise<TaskView> {
    const submission = validateSubmission(body);
    const record: LiveRecord = {
      seq: this.nextSeq++,
      task_id: taskIdFor(submission.name, this.ids),
      submission,
      submitted_at: epochSeconds(this.clock),
    };
    const view = this.tasks.add(pendingView(record));
    this.addRecord(record);
    this.queue.push(record);
    this.logger.info({ task_id: record.task_id, resources: submission.resources }, 'task submitted');
    // Placed at once, so the launch overlaps the registry write; the registry counts a task whose
    // launch is in flight as waiting, so the write below still holds it.
    this.schedule();
    // The answer shows the task as submitted (and placed), not what its agent reports meanwhile.
    const answer = structuredClone(view);
    // Durable before the client hears 201: an acknowledged task is never lost, not even by a failover.
    await this.persist();
    return answer;
  }

  listTasks(state?: TaskState): TaskView[] {
    return this.tasks.list(state);
  }

  getTask(taskId: string): TaskView {
    const view = this.tasks.get(taskId);
    if (view) return view;
    const record = this.records.get(taskId);
    if (record?.agent_id !== undefined) {
      throw new TesseraError(
        'UNAVAILABLE',
        `task '${taskId}' runs on agent ${record.agent_id}, which has not re-registered with this leader yet; ask again shortly`,
        { retryable: true },
      );
    }
    throw new NotFoundError('task', taskId);
  }

  async killTask(taskId: string): Promise<TaskView> {
    const view = this.getTask(taskId);
    if (isTerminal(view.state)) return view;
    const queued = this.queue.findIndex((entry) => entry.task_id === taskId);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.apply(
        masterStatus({ taskId, state: 'TASK_KILLED', message: 'killed before it was launched', clock: this.clock, ids: this.ids }),
      );
      await this.persist();
      this.schedule();
      return view;
    }
    this.killRequested.add(taskId);
    // A launch still in flight sends the kill when it lands (see launch()).
    if (!this.launching.has(taskId)) await this.sendKill(view);
    return view;
  }

  // ---- operator API ---------------------------------------------------------------------------

  state(): MasterState {
    return buildMasterState({
      master: this.identity,
      leader: this.identity,
      electedTime: this.electedTime,
      agents: this.agents.list(),
      usedBy: (agentId) => this.usedBy(agentId),
      liveTasks: this.tasks.active(),
      completedTasks: this.tasks.completed(),
    });
  }

  /** The leader's part of /metrics/snapshot. */
  metricsSnapshot(): Omit<MetricsSnapshot, 'master/elected' | 'master/uptime_secs'> {
    const counts = this.tasks.countByState();
    const agents = this.agents.list();
    const active = agents.filter((a) => a.status === 'active');
    const used = active.map((a) => this.usedBy(a.id));
    return {
      'master/slaves_active': active.length,
      'master/slaves_recovering': agents.filter((a) => a.status === 'recovering').length,
      'master/slaves_unreachable': agents.filter((a) => a.status === 'unreachable').length,
      'master/tasks_staging': counts.TASK_STAGING,
      'master/tasks_starting': counts.TASK_STARTING,
      'master/tasks_running': counts.TASK_RUNNING,
      'master/tasks_killing': counts.TASK_KILLING,
      'master/tasks_finished': counts.TASK_FINISHED,
      'master/tasks_failed': counts.TASK_FAILED,
      'master/tasks_killed': counts.TASK_KILLED,
      'master/tasks_lost': counts.TASK_LOST,
      'master/tasks_error': counts.TASK_ERROR,
      'master/cpus_total': active.reduce((sum, a) => sum + a.info.resources.cpus, 0),
      'master/cpus_used': used.reduce((sum, r) => sum + r.cpus, 0),
      'master/mem_total': active.reduce((sum, a) => sum + a.info.resources.mem, 0),
      'master/mem_used': used.reduce((sum, r) => sum + r.mem, 0),
      'master/invalid_status_updates': this.tasks.invalidUpdates,
    };
  }

  // ---- internal agent endpoints ---------------------------------------------------------------

  async register(body: unknown): Promise<RegisterResponse> {
    const request = validateRegister(body);
    const result = this.agents.register(request);
    const agentId = result.agent.id;
    this.refusedUntil.delete(agentId);
    let changed = result.isNew || result.infoChanged;
    for (const taskId of result.claimedPendingIds) {
      this.unqueue(taskId);
      changed = this.setRecordAgent(taskId, agentId) || changed;
    }
    const reported = new Set<string>();
    for (const { task, status } of request.tasks) {
      reported.add(task.task_id);
      if (task.framework_id !== undefined && task.framework_id !== FRAMEWORK_ID) continue;
      const record = this.records.get(task.task_id);
      if (!record) {
        // The master had forgotten it (e.g. a lost registry): remember it from now on, unless it ended.
        if (!isTerminal(status.state)) {
          this.addRecord({ seq: this.nextSeq++, task_id: task.task_id, submission: submissionOf(task), submitted_at: status.timestamp, agent_id: agentId });
          changed = true;
        }
        continue;
      }
      const view = this.tasks.get(task.task_id);
      if (view && view.submitted_at !== record.submitted_at) view.submitted_at = record.submitted_at;
      changed = this.setRecordAgent(task.task_id, agentId) || changed;
    }
    // Records that say this agent has a task it no longer reports: it ended while no leader wrote it down.
    for (const taskId of [...(this.recordsByAgent.get(agentId) ?? [])]) {
      if (reported.has(taskId) || this.tasks.get(taskId)) continue;
      this.loseRecord(taskId, agentId, 'REASON_AGENT_RESTARTED', `agent ${agentId} re-registered without task ${taskId}`);
      changed = true;
    }
    if (changed) await this.persist();
    // Place after this answer is on its way, so the agent usually knows its id before a launch comes.
    this.scheduleSoon();
    return {
      agent_id: agentId,
      master_id: this.identity.id,
      heartbeat_interval_seconds: this.heartbeatIntervalMs / 1000,
      kill_task_ids: result.killTaskIds,
    };
  }

  heartbeat(agentId: string): HeartbeatResponse {
    this.agents.heartbeat(agentId);
    return { ok: true };
  }

  /** `{update}` → `{acknowledged: uuid}`; `{updates: [...]}` → `{acknowledged: [uuids]}`, applied in order. */
  statusUpdate(agentId: string, body: unknown): StatusUpdateResponse | StatusUpdateBatchResponse {
    if (typeof body === 'object' && body !== null && 'updates' in body) {
      // The whole batch is checked before any of it is applied: a 400 means none was.
      const { updates } = validateStatusUpdateBatch(body);
      this.agents.requireActive(agentId);
      for (const update of updates) this.apply(update);
      return { acknowledged: updates.map((u) => u.uuid) };
    }
    const { update } = validateStatusUpdate(body);
    // Updates from an agent the master gave up on wait until it re-registers (its retries bring them).
    this.agents.requireActive(agentId);
    this.apply(update);
    return { acknowledged: update.uuid };
  }

  // ---- internals ------------------------------------------------------------------------------

  private recover(saved: RegistryState): void {
    this.agents.recover(saved.agents);
    const known = new Set(saved.agents.map((a) => a.id));
    for (const task of saved.tasks) {
      const record: LiveRecord = { ...task, seq: this.nextSeq++ };
      if (record.agent_id !== undefined && known.has(record.agent_id)) {
        // Its agent reports it when it re-registers; until then the task is known only here.
        this.addRecord(record);
        continue;
      }
      delete record.agent_id;
      // Its launch may have reached an agent just before the last leader went: held until every
      // recovering agent re-registered (and claimed it) or was removed, so it never runs twice.
      record.recovered = true;
      this.addRecord(record);
      this.tasks.add(pendingView(record));
      this.queue.push(record);
    }
  }

  /** Applies a status update (from an agent or the master) and reacts to its outcome. */
  private apply(update: Parameters<TaskStore['apply']>[0]): void {
    const outcome = this.tasks.apply(update);
    switch (outcome.kind) {
      case 'applied':
        this.logger.info(
          { task_id: update.task_id, state: update.state, reason: update.reason, source: update.source },
          'task status',
        );
        // An ended task's resources are free again.
        if (outcome.becameTerminal) this.schedule();
        return;
      case 'duplicate':
        this.logger.debug({ task_id: update.task_id, uuid: update.uuid }, 'duplicate status update acknowledged');
        return;
      case 'superseded':
        this.logger.info(
          { task_id: update.task_id, state: update.state, master_state: outcome.view.state },
          'status update for a task the master already ended; acknowledged',
        );
        return;
      case 'illegal':
        // Already logged and counted by the store; acknowledged so the agent does not retry forever.
        return;
      case 'unknown':
        this.logger.warn({ task_id: update.task_id, state: update.state }, 'status update for an unknown task; acknowledged');
        return;
      default:
        assertNever(outcome, 'update outcome');
    }
  }

  /** One placement pass after the current burst of calls (thousands of re-registrations share it). */
  private scheduleSoon(): void {
    if (this.schedulePending) return;
    this.schedulePending = true;
    setImmediate(() => {
      this.schedulePending = false;
      this.schedule();
    });
  }

  /** Places what waits on what is free. Synchronous, so two calls never place the same resources. */
  private schedule(): void {
    if (this.ended || this.paused || this.queue.length === 0) return;
    const now = this.clock.now();
    const active = this.agents.active().filter((agent) => (this.refusedUntil.get(agent.id) ?? 0) <= now);
    if (active.length === 0) return;
    const holdRecovered = this.agents.recovering().length > 0;
    const placeable = holdRecovered ? this.queue.filter((r) => r.recovered !== true) : this.queue;
    if (placeable.length === 0) return;
    const placements = placeTasks(
      placeable.map((record) => ({
        task_id: record.task_id,
        resources: record.submission.resources,
        executor: executorFor(record.submission),
      })),
      active.map((agent) => ({
        agent_id: agent.id,
        resources: agent.info.resources,
        used: this.usedBy(agent.id),
        executors: agent.info.executors,
      })),
    );
    for (const { task_id, agent_id } of placements) {
      const record = this.queue.find((e) => e.task_id === task_id);
      const agent = this.agents.get(agent_id);
      if (!record || !agent) continue;
      this.queue = this.queue.filter((e) => e !== record);
      this.launching.set(task_id, record);
      this.tasks.assign(task_id, agentRef(agent));
      this.logger.info({ task_id, agent_id }, 'task placed');
      void this.launch(record, agent);
    }
  }

  private async launch(record: LiveRecord, agent: AgentRecord): Promise<void> {
    const info = taskInfo(record, agent.id);
    let failure: ReturnType<typeof classifyFailure> | undefined;
    let error: unknown;
    try {
      await this.client.launch(agent.info, info);
    } catch (err) {
      failure = classifyFailure(err);
      error = err;
    }
    if (this.ended) return;
    this.launching.delete(record.task_id);
    const view = this.tasks.get(record.task_id);
    if (!view) return;
    if (failure === undefined) {
      this.logger.info({ task_id: record.task_id, agent_id: agent.id }, 'task launched');
      if (!isTerminal(view.state)) this.setRecordAgent(record.task_id, agent.id);
      if (this.killRequested.has(record.task_id) && !isTerminal(view.state)) await this.sendKill(view);
    } else {
      switch (failure) {
        case 'refused':
          if (view.state !== 'TASK_STAGING') break; // the agent reported it after all
          if (this.killRequested.has(record.task_id)) {
            this.apply(
              masterStatus({
                taskId: record.task_id,
                state: 'TASK_KILLED',
                message: 'killed before it was launched',
                clock: this.clock,
                ids: this.ids,
              }),
            );
            break;
          }
          this.logger.warn({ task_id: record.task_id, agent_id: agent.id, err: error }, 'agent refused connection; task back to waiting');
          this.holdOff(agent.id);
          this.tasks.assign(record.task_id, undefined);
          this.queue.push(record);
          this.queue.sort((a, b) => a.seq - b.seq);
          break;
        case 'rejected':
          if (view.state !== 'TASK_STAGING') break;
          this.apply(
            masterStatus({
              taskId: record.task_id,
              agentId: agent.id,
              state: 'TASK_ERROR',
              reason: 'REASON_TASK_INVALID',
              message: `agent ${agent.id} rejected the launch: ${errorMessage(error)}`,
              clock: this.clock,
              ids: this.ids,
            }),
          );
          break;
        case 'unknown':
          // The agent may have it: it reports it, or re-registers without it (then TASK_LOST).
          this.logger.warn({ task_id: record.task_id, agent_id: agent.id, err: error }, 'launch outcome unknown; task stays staging');
          if (!isTerminal(view.state)) this.setRecordAgent(record.task_id, agent.id);
          break;
        default:
          assertNever(failure, 'launch failure');
      }
    }
    await this.persist().catch(() => undefined);
    this.schedule();
  }

  /**
   * Nothing listens at the agent's address: do not offer it again at once (that would spin), but
   * after a pause or when it re-registers. Its timeout decides whether it is gone.
   */
  private holdOff(agentId: string): void {
    const pauseMs = Math.min(this.agentTimeoutMs, REFUSED_PAUSE_MS);
    this.refusedUntil.set(agentId, this.clock.now() + pauseMs);
    const timer = this.clock.setTimeout(() => {
      this.retryTimers.delete(timer);
      this.schedule();
    }, pauseMs);
    timer.unref?.();
    this.retryTimers.add(timer);
  }

  private async sendKill(view: TaskView): Promise<void> {
    if (this.ended || this.paused) return;
    const agent = view.agent_id === undefined ? undefined : this.agents.get(view.agent_id);
    if (!agent) return;
    const grace = this.records.get(view.task_id)?.submission.kill_grace_period_seconds;
    try {
      await this.client.kill(agent.info, view.task_id, grace);
      this.logger.info({ task_id: view.task_id, agent_id: agent.id }, 'kill sent');
    } catch (err) {
      // The agent's timeout or re-registration settles the task.
      this.logger.warn({ task_id: view.task_id, agent_id: agent.id, err }, 'kill not delivered');
    }
  }

  /** A task ended, whoever decided it (agent, timeout, kill): the registry forgets it. */
  private forgetEnded(taskId: string): void {
    this.killRequested.delete(taskId);
    if (this.dropRecord(taskId)) void this.persist().catch(() => undefined);
  }

  private unqueue(taskId: string): void {
    this.queue = this.queue.filter((entry) => entry.task_id !== taskId);
    this.launching.delete(taskId);
  }

  private addRecord(record: LiveRecord): void {
    this.records.set(record.task_id, record);
    if (record.agent_id !== undefined) this.indexRecord(record.task_id, record.agent_id);
  }

  /** Whether the record changed. */
  private setRecordAgent(taskId: string, agentId: string): boolean {
    const record = this.records.get(taskId);
    if (!record || record.agent_id === agentId) return false;
    if (record.agent_id !== undefined) this.recordsByAgent.get(record.agent_id)?.delete(taskId);
    record.agent_id = agentId;
    delete record.recovered;
    this.indexRecord(taskId, agentId);
    return true;
  }

  private indexRecord(taskId: string, agentId: string): void {
    let set = this.recordsByAgent.get(agentId);
    if (!set) this.recordsByAgent.set(agentId, (set = new Set()));
    set.add(taskId);
  }

  /** Whether there was a record to drop. */
  private dropRecord(taskId: string): boolean {
    const record = this.records.get(taskId);
    if (!record) return false;
    this.records.delete(taskId);
    if (record.agent_id !== undefined) this.recordsByAgent.get(record.agent_id)?.delete(taskId);
    return true;
  }

  /** A recorded task its agent never reported: it becomes a LOST view (so clients hear what became of it). */
  private loseRecord(taskId: string, agentId: string, reason: TaskReason, message: string): void {
    const record = this.records.get(taskId);
    if (!record) return;
    const status = masterStatus({ taskId, agentId, state: 'TASK_LOST', reason, message, clock: this.clock, ids: this.ids });
    const view = pendingView(record);
    view.agent_id = agentId;
    view.state = 'TASK_LOST';
    view.reason = reason;
    view.message = message;
    view.statuses = [status];
    this.tasks.add(view); // ended: the store's onTerminal drops the record
    this.logger.warn({ task_id: taskId, agent_id: agentId, reason }, 'task lost');
  }

  private usedBy(agentId: string): ScalarResources {
    return sumResources(this.tasks.onAgent(agentId).map((view) => view.resources));
  }

  private scheduleSweep(): void {
    if (this.ended) return;
    const every = Math.max(10, Math.min(1000, Math.floor(this.agentTimeoutMs / 4)));
    this.sweepTimer = this.clock.setTimeout(() => {
      try {
        this.sweep();
      } finally {
        this.scheduleSweep();
      }
    }, every);
    this.sweepTimer.unref?.();
  }

  /**
   * Marks silent agents unreachable (their tasks LOST) and removes recovered agents that did not
   * re-register in time (their recorded tasks LOST). Public for tests with a manual clock.
   */
  sweep(): void {
    if (this.ended || this.paused) return;
    const { unreachable, removed } = this.agents.sweep();
    for (const agent of removed) {
      for (const taskId of [...(this.recordsByAgent.get(agent.id) ?? [])]) {
        this.loseRecord(taskId, agent.id, 'REASON_AGENT_REMOVED', `agent ${agent.id} did not re-register within the timeout and was removed`);
      }
      this.recordsByAgent.delete(agent.id);
    }
    if (removed.length > 0) void this.persist().catch(() => undefined);
    if (unreachable.length > 0 || removed.length > 0) this.schedule();
  }

  private registryState(): RegistryState {
    const tasks = [...this.records.values()]
      .sort((a, b) => a.seq - b.seq)
      .map(({ task_id, submission, submitted_at, agent_id }): TaskRecord => {
        // A launch in flight is saved without its agent: only an accepted launch names one.
        const saved: TaskRecord = { task_id, submission, submitted_at };
        if (agent_id !== undefined) saved.agent_id = agent_id;
        return saved;
      });
    return { agents: this.agents.admitted(), tasks, frameworks: [] };
  }

  /**
   * Group commit: while one registry write is under way, every persist() asked for meanwhile shares
   * the single write that follows it. That write snapshots the state when it starts, so it holds
   * every change its callers made before asking; each caller still resolves only once that is durable.
   * A leader that has ended writes nothing: its callers hear that it no longer leads.
   */
  private persist(): Promise<void> {
    if (this.ended) return Promise.reject(notLeading());
    if (this.nextSave) return this.nextSave;
    const current = this.saving;
    if (!current) return this.startSave();
    const next = current
      .catch(() => undefined)
      .then(() => {
        this.nextSave = undefined;
        return this.startSave();
      });
    this.nextSave = next;
    return next;
  }

  private startSave(): Promise<void> {
    if (this.ended) return Promise.reject(notLeading());
    const save = this.registry.save(this.registryState());
    this.saving = save;
    const settled = (): void => {
      if (this.saving === save) this.saving = undefined;
    };
    save.then(settled, settled);
    return save;
  }
}

function notLeading(): TesseraError {
  return new TesseraError('NOT_LEADER', 'this master stopped leading before the change was recorded; retry with the leader', {
    retryable: true,
  });
}

function pendingView(record: TaskRecord): TaskView {
  const { submission } = record;
  const view: TaskView = {
    task_id: record.task_id,
    name: submission.name,
    framework_id: FRAMEWORK_ID,
    state: 'TASK_STAGING',
    resources: submission.resources,
    statuses: [],
    submitted_at: record.submitted_at,
  };
  if (submission.command) view.command = submission.command;
  if (submission.container) view.container = submission.container;
  return view;
}

function taskInfo(record: TaskRecord, agentId: string): TaskInfo {
  const s: TaskSubmission = record.submission;
  const info: TaskInfo = {
    task_id: record.task_id,
    name: s.name,
    agent_id: agentId,
    framework_id: FRAMEWORK_ID,
    resources: s.resources,
  };
  if (s.command) info.command = s.command;
  if (s.container) info.container = s.container;
  if (s.kill_grace_period_seconds !== undefined) info.kill_grace_period_seconds = s.kill_grace_period_seconds;
  return info;
}

/** What an agent reports of a task, as the submission the task API would have taken. */
function submissionOf(task: TaskInfo): TaskSubmission {
  const submission: TaskSubmission = { name: task.name, resources: task.resources };
  if (task.command) submission.command = task.command;
  if (task.container) submission.container = task.container;
  if (task.kill_grace_period_seconds !== undefined) submission.kill_grace_period_seconds = task.kill_grace_period_seconds;
  return submission;
}
