// What a master does while it leads: admits agents, keeps the task view, places waiting tasks first-fit
// and launches them on agents over HTTP, and keeps the registry. A Leader lives for one term: it is
// made from the registry when its master is elected (or starts standalone) and thrown away, never
// reused, when leadership ends, so nothing of a past term can act in a later one.
import { createHash } from 'node:crypto';
import {
  NotFoundError,
  TesseraError,
  compileValidator,
  addResources,
  containsResources,
  subtractResources,
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
  type AcknowledgeRequest,
  type AgentInfo,
  type Resources,
  type TaskInfo,
  type TaskReason,
  type TaskStatus,
  type TaskState,
  type TaskSubmission,
  type TaskView,
  type TimerHandle,
} from '../common/index.js';
import { AgentManager, agentRef, classifyFailure, type AgentClient, type AgentRecord } from './agents/index.js';
import { DrfAllocator } from './allocator/index.js';
import { FRAMEWORK_ID } from './framework.js';
import type { FrameworkDriver } from './frameworks/index.js';
import { OfferBook, type Offer } from './offers/index.js';
import type { MetricsSnapshot } from './metrics.js';
import { buildMasterState, type MasterIdentity, type MasterState } from './operator-state.js';
import { sumResources, type ScalarResources } from './used-resources.js';
import type { FrameworkRecord, Registry, RegistryState, TaskRecord } from './registry/index.js';
import { executorFor, validateSubmission } from './submission.js';
import { TaskStore, TaskWatch, masterStatus } from './tasks/index.js';

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
  /** Allocation cycle for filter expiry and offer timeouts (events trigger cycles at once too); default 1000. */
  allocationIntervalMs?: number;
  /** An offer neither accepted nor declined this long is rescinded; default 60000. */
  offerTimeoutMs?: number;
  /** Role weights for DRF. */
  roleWeights?: Record<string, number>;
}

/** A scheduler-API framework while this leader knows it. */
interface FrameworkEntry {
  record: FrameworkRecord;
  /** Present while it is subscribed. */
  driver?: FrameworkDriver;
  streamId?: string;
  /** Armed while it is disconnected: removes it once its failover timeout has passed. */
  failoverTimer?: TimerHandle;
  /** FrameworkInfo.capabilities of its current subscription (TASK_KILLING_STATE, …). */
  capabilities?: ReadonlySet<string>;
}

/** What a launched task holds in the allocator until it ends (released exactly once). */
interface Held {
  frameworkId: string;
  agentId: string;
  resources: Resources;
}

type UpdateOutcomeKind = ReturnType<TaskStore['apply']>['kind'];

/** What SUBSCRIBE asks for, already checked (role allowed, principal matching). */
export interface FrameworkSubscription {
  /** Present when it comes back with the id it was given. */
  id?: string;
  name: string;
  user: string;
  role: string;
  principal?: string;
  failoverTimeoutSeconds: number;
  hostname?: string;
  webuiUrl?: string;
  /** FrameworkInfo.capabilities types. */
  capabilities?: readonly string[];
}

/** A task a framework asks to launch on an offer: converted already, or why it could not be. */
export type LaunchRequestItem = { task: TaskInfo } | { taskId: string; error: string };

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
  /** Callers blocked on a task's next status (GET /api/v1/tasks/{id}?index=N). */
  private readonly watch: TaskWatch;
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
  private readonly retryTimers = new Set<TimerHandle>();
  private nextSeq = 0;
  private nextFrameworkSeq = 0;
  private allocationPending = false;
  private allocationTimer: TimerHandle | undefined;
  private readonly allocator: DrfAllocator;
  private readonly offers = new OfferBook();
  /** Scheduler-API frameworks (the built-in one is FRAMEWORK_ID and not in here). */
  private readonly frameworks = new Map<string, FrameworkEntry>();
  /** Torn down or timed out this term: they may not subscribe again with the same id. */
  private readonly removedFrameworks = new Set<string>();
  /** Launched tasks' allocations, by task id (see hold/release/forgetHeldOn). */
  private readonly held = new Map<string, Held>();
  private readonly heldByAgent = new Map<string, Set<string>>();
  /** KILLs of tasks not known yet while agents are still re-registering: settled when they have. */
  private deferredKills: Array<{ frameworkId: string; taskId: string }> = [];
  /** Reconciliation questions about tasks on agents that have not re-registered yet, by agent. */
  private readonly deferredReconciles = new Map<string, Array<{ frameworkId: string; taskId: string }>>();
  /** (framework id, the framework's task id) → task_id, for frameworks' calls (see withInternalId). */
  private readonly frameworkTaskIds = new Map<string, string>();
  /** Acknowledgements on their way to agents, batched per agent. */
  private readonly ackBatches = new Map<string, AcknowledgeRequest['acknowledgements']>();
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
  private readonly allocationIntervalMs: number;
  private readonly offerTimeoutMs: number;

  private constructor(options: LeaderOptions) {
    this.registry = options.registry;
    this.identity = options.identity;
    this.logger = options.logger;
    this.clock = options.clock;
    this.ids = options.ids;
    this.client = options.client;
    this.agentTimeoutMs = options.agentTimeoutMs;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs;
    this.allocationIntervalMs = options.allocationIntervalMs ?? 1000;
    this.offerTimeoutMs = options.offerTimeoutMs ?? 60_000;
    this.electedTime = epochSeconds(options.clock);
    this.allocator = new DrfAllocator({ clock: options.clock, ...(options.roleWeights ? { roleWeights: options.roleWeights } : {}) });
    // The built-in task framework takes offers like any other; it asks for them only while tasks wait.
    this.allocator.addFramework(FRAMEWORK_ID);
    this.allocator.suppress(FRAMEWORK_ID);
    this.tasks = new TaskStore({
      logger: options.logger,
      completedLimit: options.completedLimit,
      onTerminal: (view) => this.forgetEnded(view.task_id),
      onApplied: (view, status) => {
        this.watch.changed(view.task_id);
        this.forward(view, status);
      },
    });
    this.watch = new TaskWatch(options.clock);
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
    leader.scheduleAllocationTick();
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
    this.watch.releaseAll();
    if (this.sweepTimer) this.clock.clearTimeout(this.sweepTimer);
    if (this.allocationTimer) this.clock.clearTimeout(this.allocationTimer);
    for (const timer of this.retryTimers) this.clock.clearTimeout(timer);
    this.retryTimers.clear();
    // Subscribers reconnect to whoever leads next; their failover timeouts start over there.
    for (const entry of this.frameworks.values()) {
      if (entry.failoverTimer) this.clock.clearTimeout(entry.failoverTimer);
      entry.driver?.close();
    }
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
    this.allocateSoon();
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
    // Offered and placed at once, so the launch overlaps the registry write; the registry counts a
    // task whose launch is in flight as waiting, so the write below still holds it.
    this.allocator.revive(FRAMEWORK_ID);
    this.allocateNow();
    // The answer shows the task as submitted (and placed), not what its agent reports meanwhile.
    const answer = structuredClone(view);
    // Durable before the client hears 201: an acknowledged task is never lost, not even by a failover.
    await this.persist();
    return answer;
  }

  listTasks(state?: TaskState): TaskView[] {
    return this.tasks.list(state);
  }

  /**
   * The task once it has more than `index` statuses (or has ended), else after `timeoutMs` as it is
   * then. Leadership ending answers at once; the caller then asks whoever leads.
   */
  async waitForTask(taskId: string, index: number, timeoutMs: number): Promise<void> {
    const view = this.getTask(taskId);
    if (view.statuses.length > index || isTerminal(view.state) || this.ended) return;
    await this.watch.next(taskId, timeoutMs);
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
      frameworks: [...this.frameworks.values()].map(({ record, driver }) => ({
        id: record.id,
        name: record.name,
        user: record.user,
        role: record.role,
        failover_timeout: record.failover_timeout,
        registered_time: record.registered_at,
        active: driver !== undefined,
        offers: this.offers.forFramework(record.id).length,
        ...(record.principal === undefined ? {} : { principal: record.principal }),
      })),
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
      'master/frameworks_active': [...this.frameworks.values()].filter((f) => f.driver !== undefined).length,
      'master/frameworks_inactive': [...this.frameworks.values()].filter((f) => f.driver === undefined).length,
      'master/outstanding_offers': this.offers.size,
      'master/tasks_dropped': counts.TASK_DROPPED,
    };
  }

  // ---- internal agent endpoints ---------------------------------------------------------------

  async register(body: unknown): Promise<RegisterResponse> {
    const request = validateRegister(body);
    const result = this.agents.register(request);
    const agentId = result.agent.id;
    let changed = result.isNew || result.infoChanged;
    for (const taskId of result.claimedPendingIds) {
      this.unqueue(taskId);
      changed = this.setRecordAgent(taskId, agentId) || changed;
    }
    const reported = new Set<string>();
    for (const { task, status } of request.tasks) {
      reported.add(task.task_id);
      if (task.framework_id !== undefined && task.framework_id !== FRAMEWORK_ID) {
        if (task.framework_task_id !== undefined) this.frameworkTaskIds.set(frameworkTaskKey(task.framework_id, task.framework_task_id), task.task_id);
        continue;
      }
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
    this.resetAgentAllocation(result.agent);
    this.answerDeferredReconciles(agentId);
    this.settleDeferredKills();
    if (this.queue.length > 0) this.allocator.revive(FRAMEWORK_ID);
    if (changed) await this.persist();
    // Offer after this answer is on its way, so the agent usually knows its id before a launch comes.
    this.allocateSoon();
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

  /**
   * `{update}` or `{updates: [...]}` (applied in order). Each uuid comes back as `acknowledged` (the
   * agent is done with it: the built-in framework's tasks, or nobody left to tell) or `received`
   * (forwarded to the task's framework, whose ACKNOWLEDGE the agent waits for).
   */
  statusUpdate(agentId: string, body: unknown): StatusUpdateResponse | StatusUpdateBatchResponse {
    if (typeof body === 'object' && body !== null && 'updates' in body) {
      // The whole batch is checked before any of it is applied: a 400 means none was.
      const { updates } = validateStatusUpdateBatch(body);
      this.agents.requireActive(agentId);
      const acknowledged: string[] = [];
      const received: string[] = [];
      for (const update of updates) (this.applyFromAgent(update) ? received : acknowledged).push(update.uuid);
      return received.length > 0 ? { acknowledged, received } : { acknowledged };
    }
    const { update } = validateStatusUpdate(body);
    // Updates from an agent the master gave up on wait until it re-registers (its retries bring them).
    this.agents.requireActive(agentId);
    return this.applyFromAgent(update) ? { received: update.uuid } : { acknowledged: update.uuid };
  }

  // ---- internals ------------------------------------------------------------------------------

  private recover(saved: RegistryState): void {
    // Recovered agents are offered only once they re-register (resetAgentAllocation).
    this.agents.recover(saved.agents);
    // Frameworks come back disconnected: they have their failover timeout to re-subscribe here.
    for (const record of saved.frameworks) {
      const entry: FrameworkEntry = { record };
      this.frameworks.set(record.id, entry);
      this.allocator.addFramework(record.id, { role: record.role });
      this.allocator.deactivateFramework(record.id);
      this.armFailoverTimer(entry);
    }
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
    if (this.queue.length > 0) this.allocator.revive(FRAMEWORK_ID);
  }

  /** Applies a status update (from an agent or the master) and reacts to its outcome. */
  private apply(update: Parameters<TaskStore['apply']>[0]): UpdateOutcomeKind {
    const outcome = this.tasks.apply(update);
    this.logOutcome(update, outcome);
    return outcome.kind;
  }

  private logOutcome(update: TaskStatus, outcome: ReturnType<TaskStore['apply']>): void {
    switch (outcome.kind) {
      case 'applied':
        this.logger.info(
          { task_id: update.task_id, state: update.state, reason: update.reason, source: update.source },
          'task status',
        );
        // An ended task's resources are free again (released by the store's onTerminal hook).
        if (outcome.becameTerminal) this.allocateSoon();
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

  // ---- allocation and offers -------------------------------------------------------------------

  /** One allocation cycle after the current burst of calls (thousands of re-registrations share it). */
  private allocateSoon(): void {
    if (this.allocationPending) return;
    this.allocationPending = true;
    setImmediate(() => {
      this.allocationPending = false;
      this.allocateNow();
    });
  }

  /** The periodic cycle: decline filters expire and stale offers are rescinded even when nothing happens. */
  private scheduleAllocationTick(): void {
    if (this.ended) return;
    this.allocationTimer = this.clock.setTimeout(() => {
      try {
        this.rescindStaleOffers();
        this.allocateNow();
      } finally {
        this.scheduleAllocationTick();
      }
    }, this.allocationIntervalMs);
    this.allocationTimer.unref?.();
  }

  /**
   * Runs one allocation cycle and sends each framework its offers, batched. Synchronous, so two cycles
   * never hand out the same resources.
   */
  private allocateNow(): void {
    if (this.ended || this.paused) return;
    const allocations = this.allocator.allocate();
    if (allocations.length === 0) return;
    const now = this.clock.now();
    const byFramework = new Map<string, Offer[]>();
    for (const { frameworkId, agentId, resources } of allocations) {
      const offer: Offer = { id: this.ids.uuid(), frameworkId, agentId, resources, createdMs: now };
      this.offers.add(offer);
      let list = byFramework.get(frameworkId);
      if (!list) byFramework.set(frameworkId, (list = []));
      list.push(offer);
    }
    for (const [frameworkId, offers] of byFramework) {
      const driver = this.driverOf(frameworkId);
      if (driver) driver.offers(offers);
      else for (const offer of offers) this.returnOffer(offer, 0);
    }
  }

  private driverOf(frameworkId: string): FrameworkDriver | undefined {
    if (frameworkId === FRAMEWORK_ID) return this.builtinDriver;
    return this.frameworks.get(frameworkId)?.driver;
  }

  /** An offer's resources go back to the pool; `refuseSeconds` > 0 also keeps that agent from this framework for a while. */
  private returnOffer(offer: Offer, refuseSeconds: number | undefined): void {
    this.offers.take(offer.id);
    this.allocator.recover(offer.frameworkId, offer.agentId, offer.resources);
    if (refuseSeconds === undefined || refuseSeconds > 0) this.allocator.decline(offer.frameworkId, offer.agentId, refuseSeconds);
  }

  private rescindOffer(offer: Offer): void {
    if (!this.offers.take(offer.id)) return;
    this.allocator.recover(offer.frameworkId, offer.agentId, offer.resources);
    this.driverOf(offer.frameworkId)?.rescind(offer.id);
  }

  private rescindStaleOffers(): void {
    for (const offer of this.offers.olderThan(this.clock.now() - this.offerTimeoutMs)) {
      this.logger.info({ offer_id: offer.id, framework_id: offer.frameworkId }, 'offer timed out; rescinded');
      this.rescindOffer(offer);
    }
  }

  /**
   * The agent (re-)registered: rescind what was offered of it and count it again from scratch — its
   * total, and what its live tasks use — so the allocator never drifts from what agents report.
   */
  private resetAgentAllocation(agent: AgentRecord): void {
    for (const offer of this.offers.forAgent(agent.id)) this.rescindOffer(offer);
    this.allocator.removeAgent(agent.id);
    this.allocator.addAgent(agent.id, agent.info.resources);
    this.forgetHeldOn(agent.id);
    for (const view of this.tasks.onAgent(agent.id)) this.hold(view.task_id, view.framework_id, agent.id, view.resources);
  }

  /** Removes an agent from allocation (unreachable or removed); its tasks' allocations go with it. */
  private dropAgentAllocation(agentId: string): void {
    for (const offer of this.offers.forAgent(agentId)) this.rescindOffer(offer);
    this.allocator.removeAgent(agentId);
    this.forgetHeldOn(agentId);
  }

  /** Counts a live task's resources as its framework's, if not counted yet. */
  private hold(taskId: string, frameworkId: string, agentId: string, resources: Resources): void {
    if (this.held.has(taskId)) return;
    this.allocator.allocateUsed(frameworkId, agentId, resources);
    this.noteHeld(taskId, { frameworkId, agentId, resources });
  }

  /** Records what the allocator already counts for a task (an accepted launch, or hold()). */
  private noteHeld(taskId: string, held: Held): void {
    this.held.set(taskId, held);
    let set = this.heldByAgent.get(held.agentId);
    if (!set) this.heldByAgent.set(held.agentId, (set = new Set()));
    set.add(taskId);
  }

  /** Stops tracking a task's allocation (the caller returns it to the allocator, or the allocator forgot it). */
  private unnoteHeld(taskId: string): Held | undefined {
    const held = this.held.get(taskId);
    if (!held) return undefined;
    this.held.delete(taskId);
    const set = this.heldByAgent.get(held.agentId);
    set?.delete(taskId);
    if (set?.size === 0) this.heldByAgent.delete(held.agentId);
    return held;
  }

  /** The allocator forgot the agent's allocations: so do we. */
  private forgetHeldOn(agentId: string): void {
    for (const taskId of [...(this.heldByAgent.get(agentId) ?? [])]) this.unnoteHeld(taskId);
  }

  /** A launched task's resources go back to the pool, once. */
  private release(taskId: string): void {
    const held = this.unnoteHeld(taskId);
    if (held) this.allocator.recover(held.frameworkId, held.agentId, held.resources);
  }

  /**
   * Launches tasks on an offer (the offer path every framework takes, the built-in one included).
   * Each task must fit in what is left of the offers, name their agent, and carry an id unused by
   * any live task; the others end TASK_ERROR. Unused resources go back to the pool, filtered for
   * `refuseSeconds` (Mesos: the accept's filters apply to what was not used).
   */
  acceptOffers(frameworkId: string, offerIds: readonly string[], items: readonly LaunchRequestItem[], refuseSeconds?: number): void {
    const offers: Offer[] = [];
    let invalid: string | undefined;
    for (const id of offerIds) {
      const offer = this.offers.get(id);
      if (!offer) invalid = `offer ${id} is no longer valid (used, declined, rescinded or timed out)`;
      else if (offer.frameworkId !== frameworkId) invalid = `offer ${id} belongs to another framework`;
      else if (offers[0] && offers[0].agentId !== offer.agentId) invalid = 'the offers are for different agents';
      else offers.push(offer);
    }
    if (offerIds.length === 0) invalid = 'no offer ids';
    if (invalid !== undefined || offers.length === 0) {
      // Mesos: tasks launched on invalid offers are dropped; valid offers in the call go back.
      for (const offer of offers) this.returnOffer(offer, 0);
      for (const item of items) {
        const taskId = 'task' in item ? item.task.task_id : item.taskId;
        this.tellFramework(frameworkId, taskId, 'TASK_DROPPED', 'REASON_INVALID_OFFERS', invalid ?? 'no valid offer');
      }
      return;
    }
    const agentId = offers[0]!.agentId;
    const agent = this.agents.get(agentId);
    let remaining = offers.reduce<Resources>((sum, o) => addResources(sum, o.resources), { cpus: 0, mem: 0 });
    for (const offer of offers) this.offers.take(offer.id);
    const launches: Array<{ info: TaskInfo; resources: Resources }> = [];
    for (const item of items) {
      if (!('task' in item)) {
        this.tellFramework(frameworkId, item.taskId, 'TASK_ERROR', 'REASON_TASK_INVALID', item.error);
        continue;
      }
      const info = frameworkId === FRAMEWORK_ID ? item.task : this.withInternalId(item.task);
      const problem = this.launchProblem(info, agentId, agent, remaining);
      if (problem !== undefined) {
        this.tellFramework(frameworkId, info.task_id, 'TASK_ERROR', 'REASON_TASK_INVALID', problem);
        continue;
      }
      const wanted = offeredPart(info.resources);
      remaining = subtractResources(remaining, wanted);
      launches.push({ info, resources: wanted });
    }
    // What is not used goes back to the pool (filtered for this framework if it asked).
    this.allocator.recover(frameworkId, agentId, remaining);
    if (refuseSeconds === undefined || refuseSeconds > 0) this.allocator.decline(frameworkId, agentId, refuseSeconds);
    if (!agent) return;
    for (const { info, resources } of launches) {
      this.noteHeld(info.task_id, { frameworkId, agentId, resources });
      if (frameworkId !== FRAMEWORK_ID) {
        this.tasks.add(frameworkView(info, agent, epochSeconds(this.clock)));
        this.frameworkTaskIds.set(frameworkTaskKey(frameworkId, info.framework_task_id ?? info.task_id), info.task_id);
      }
      this.tasks.assign(info.task_id, agentRef(agent));
      this.logger.info({ task_id: info.task_id, agent_id: agentId, framework_id: frameworkId }, 'task placed');
      void this.launch(info, agent);
    }
  }

  /** Why a task cannot launch on this offer, or undefined. */
  private launchProblem(info: TaskInfo, agentId: string, agent: AgentRecord | undefined, remaining: Resources): string | undefined {
    if (info.agent_id !== agentId) return `task ${info.task_id} names agent ${info.agent_id}, but the offer is for agent ${agentId}`;
    if (!agent || agent.status !== 'active') return `agent ${agentId} is not active`;
    if (info.framework_id !== FRAMEWORK_ID && this.taskOf(info.framework_id ?? '', info.framework_task_id ?? info.task_id)) {
      return `task id ${info.framework_task_id ?? info.task_id} is already in use by this framework`;
    }
    const existing = this.tasks.get(info.task_id);
    // The built-in framework's tasks exist (waiting) before their launch; anyone else's id must be new.
    const ours = info.framework_id === FRAMEWORK_ID && existing?.framework_id === FRAMEWORK_ID && existing.state === 'TASK_STAGING';
    if (existing && !ours) return `task id ${info.task_id} is already in use`;
    const executor = executorFor(info);
    if (!agent.info.executors.includes(executor)) return `agent ${agentId} cannot run ${executor} tasks`;
    if (!containsResources(remaining, offeredPart(info.resources))) {
      return `task ${info.task_id} asks for more than the offers hold (${describe(info.resources)} > ${describe(remaining)} left)`;
    }
    return undefined;
  }

  /**
   * Task ids are unique per framework, but agents key tasks by task_id alone: a framework's task
   * whose id another framework's task already has is launched as `<id>.<8 hex of the framework id>`
   * and keeps its own id in framework_task_id, which the framework is always shown.
   */
  private withInternalId(info: TaskInfo): TaskInfo {
    const clash = this.tasks.get(info.task_id);
    if (!clash || clash.framework_id === info.framework_id) return info;
    const suffix = `.${createHash('sha1').update(info.framework_id ?? '').digest('hex').slice(0, 8)}`;
    return { ...info, task_id: `${info.task_id.slice(0, 200 - suffix.length)}${suffix}`, framework_task_id: info.task_id };
  }

  /** The live or kept view of a framework's task, by the framework's own id. */
  private taskOf(frameworkId: string, frameworkTaskId: string): TaskView | undefined {
    const key = frameworkTaskKey(frameworkId, frameworkTaskId);
    const taskId = this.frameworkTaskIds.get(key) ?? frameworkTaskId;
    const view = this.tasks.get(taskId);
    if (view && view.framework_id === frameworkId && (view.framework_task_id ?? view.task_id) === frameworkTaskId) return view;
    if (this.frameworkTaskIds.get(key) !== undefined && !view) this.frameworkTaskIds.delete(key); // dropped from the kept list
    return undefined;
  }

  /** A status as its framework must see it: with the framework's own task id. */
  private forFramework(view: TaskView, status: TaskStatus): TaskStatus {
    return view.framework_task_id === undefined ? status : { ...status, task_id: view.framework_task_id };
  }

  /** A framework declines offers: their resources go back, filtered for `refuseSeconds` (default 5). */
  declineOffers(frameworkId: string, offerIds: readonly string[], refuseSeconds?: number): void {
    for (const id of offerIds) {
      const offer = this.offers.get(id);
      if (offer && offer.frameworkId === frameworkId) this.returnOffer(offer, refuseSeconds);
    }
    this.allocateSoon();
  }

  /** A status the master makes up for a framework's task it never launched (dropped, invalid). */
  private tellFramework(frameworkId: string, taskId: string, state: TaskState, reason: TaskReason, message: string): void {
    const status = masterStatus({ taskId, state, reason, message, clock: this.clock, ids: this.ids });
    this.logger.info({ task_id: taskId, framework_id: frameworkId, state, reason, message }, 'task refused');
    if (frameworkId === FRAMEWORK_ID) {
      this.launching.delete(taskId);
      if (this.tasks.get(taskId)) this.apply(status);
      return;
    }
    this.driverOf(frameworkId)?.update(status, true);
  }

  // ---- scheduler-API frameworks --------------------------------------------------------------------

  /**
   * SUBSCRIBE: a new framework, or one coming back (with its id) within its failover timeout, which
   * keeps its tasks. A previous connection of the same framework is told it failed over and closed.
   * Returns the stream id its calls must carry. The caller sends SUBSCRIBED before anything else.
   */
  subscribeFramework(subscription: FrameworkSubscription, driver: FrameworkDriver): { frameworkId: string; streamId: string } {
    if (subscription.id !== undefined && this.removedFrameworks.has(subscription.id)) {
      throw new TesseraError('FORBIDDEN', `framework ${subscription.id} was removed (torn down, or its failover timeout passed); subscribe without an id`);
    }
    if (subscription.id === FRAMEWORK_ID) throw new TesseraError('FORBIDDEN', `framework id ${FRAMEWORK_ID} is the built-in task framework's`);
    const frameworkId = subscription.id ?? `${this.identity.id}-${String(this.nextFrameworkSeq++).padStart(4, '0')}`;
    let entry = this.frameworks.get(frameworkId);
    const record: FrameworkRecord = {
      id: frameworkId,
      name: subscription.name,
      user: subscription.user,
      role: subscription.role,
      failover_timeout: subscription.failoverTimeoutSeconds,
      registered_at: entry?.record.registered_at ?? epochSeconds(this.clock),
      ...(subscription.principal === undefined ? {} : { principal: subscription.principal }),
      ...(subscription.hostname === undefined ? {} : { hostname: subscription.hostname }),
      ...(subscription.webuiUrl === undefined ? {} : { webui_url: subscription.webuiUrl }),
    };
    if (entry) {
      if (entry.failoverTimer) this.clock.clearTimeout(entry.failoverTimer);
      delete entry.failoverTimer;
      const previous = entry.driver;
      if (previous) {
        delete entry.driver;
        previous.error('Framework failed over');
        previous.close();
      }
      // Offers made to the old connection are void.
      for (const offer of this.offers.forFramework(frameworkId)) this.returnOffer(offer, 0);
      entry.record = record;
      this.logger.info({ framework_id: frameworkId, name: record.name }, 'framework re-subscribed');
    } else {
      entry = { record };
      this.frameworks.set(frameworkId, entry);
      this.logger.info({ framework_id: frameworkId, name: record.name, role: record.role }, 'framework subscribed');
    }
    const streamId = this.ids.uuid();
    entry.driver = driver;
    entry.streamId = streamId;
    entry.capabilities = new Set(subscription.capabilities ?? []);
    this.allocator.addFramework(frameworkId, { role: record.role });
    this.allocator.activateFramework(frameworkId);
    this.allocator.revive(frameworkId);
    this.persist().catch((err: unknown) => this.logger.error({ err, framework_id: frameworkId }, 'could not record the framework'));
    this.allocateSoon();
    return { frameworkId, streamId };
  }

  streamIdOf(frameworkId: string): string | undefined {
    return this.frameworks.get(frameworkId)?.streamId;
  }

  frameworkPrincipal(frameworkId: string): string | undefined {
    return this.frameworks.get(frameworkId)?.record.principal;
  }

  agentInfo(agentId: string): AgentInfo | undefined {
    return this.agents.get(agentId)?.info;
  }

  /** The framework's event stream ended: it keeps its tasks for its failover timeout, then is removed. */
  frameworkDisconnected(frameworkId: string, streamId: string): void {
    const entry = this.frameworks.get(frameworkId);
    if (!entry || entry.streamId !== streamId || this.ended) return;
    delete entry.driver;
    delete entry.streamId;
    this.allocator.deactivateFramework(frameworkId);
    for (const offer of this.offers.forFramework(frameworkId)) this.returnOffer(offer, 0);
    this.logger.warn({ framework_id: frameworkId, failover_timeout: entry.record.failover_timeout }, 'framework disconnected');
    this.armFailoverTimer(entry);
    this.allocateSoon();
  }

  private armFailoverTimer(entry: FrameworkEntry): void {
    const frameworkId = entry.record.id;
    const timeoutMs = Math.max(0, entry.record.failover_timeout * 1000);
    if (timeoutMs === 0) {
      this.removeFramework(frameworkId, 'it disconnected with no failover timeout');
      return;
    }
    // Timers cap at ~24.8 days; a longer timeout is checked again when this one fires.
    const timer = this.clock.setTimeout(() => {
      if (entry.failoverTimer !== timer) return;
      delete entry.failoverTimer;
      if (!entry.driver) this.removeFramework(frameworkId, `it did not re-subscribe within its failover timeout (${entry.record.failover_timeout} s)`);
    }, Math.min(timeoutMs, 2 ** 31 - 1));
    timer.unref?.();
    entry.failoverTimer = timer;
  }

  teardownFramework(frameworkId: string): void {
    this.removeFramework(frameworkId, 'it asked to be torn down');
  }

  /** Kills its tasks, forgets its offers and allocations, closes its stream, and records it gone. */
  private removeFramework(frameworkId: string, why: string): void {
    const entry = this.frameworks.get(frameworkId);
    if (!entry) return;
    if (entry.failoverTimer) this.clock.clearTimeout(entry.failoverTimer);
    this.frameworks.delete(frameworkId);
    this.removedFrameworks.add(frameworkId);
    for (const offer of this.offers.forFramework(frameworkId)) this.offers.take(offer.id);
    this.allocator.removeFramework(frameworkId);
    const tasks = this.tasks.active().filter((view) => view.framework_id === frameworkId);
    for (const view of tasks) {
      this.unnoteHeld(view.task_id); // the allocator already let go of everything it held
      this.killRequested.add(view.task_id);
      if (!this.launching.has(view.task_id)) void this.sendKill(view);
    }
    entry.driver?.close();
    this.logger.warn({ framework_id: frameworkId, tasks: tasks.length }, `framework removed: ${why}`);
    this.persist().catch((err: unknown) => this.logger.error({ err, framework_id: frameworkId }, 'could not record the framework removal'));
    this.allocateSoon();
  }

  reviveFramework(frameworkId: string): void {
    this.allocator.revive(frameworkId);
    this.allocateSoon();
  }

  suppressFramework(frameworkId: string): void {
    this.allocator.suppress(frameworkId);
  }

  /**
   * KILL: its own task is killed through its agent. One not known (yet) while agents are still
   * re-registering after a failover waits for them — it may be on one of them — and is answered
   * TASK_LOST only once none is left, as Mesos does.
   */
  killFrameworkTask(frameworkId: string, taskId: string, agentId?: string): void {
    const view = this.taskOf(frameworkId, taskId);
    if (!view) {
      const mayBeOnRecovering =
        agentId !== undefined ? this.agents.get(agentId)?.status === 'recovering' : this.agents.recovering().length > 0;
      if (mayBeOnRecovering) this.deferredKills.push({ frameworkId, taskId });
      else this.reconciliationAnswer(frameworkId, taskId, undefined);
      return;
    }
    if (isTerminal(view.state)) return;
    this.killRequested.add(view.task_id);
    if (!this.launching.has(view.task_id)) void this.sendKill(view);
  }

  /** ACKNOWLEDGE: passed on to the agent, which then forgets the update and sends the task's next one. */
  acknowledgeUpdate(frameworkId: string, agentId: string, frameworkTaskId: string, uuid: string): void {
    // The agent knows the task by its task_id, which may differ from the framework's id.
    const taskId = this.taskOf(frameworkId, frameworkTaskId)?.task_id ?? frameworkTaskId;
    const agent = this.agents.get(agentId);
    if (!agent) return; // master-generated updates, or an agent that is gone: nothing to tell
    let batch = this.ackBatches.get(agentId);
    if (!batch) {
      this.ackBatches.set(agentId, (batch = []));
      setImmediate(() => this.flushAcks(agentId));
    }
    batch.push({ task_id: taskId, uuid });
  }

  private flushAcks(agentId: string): void {
    const batch = this.ackBatches.get(agentId);
    this.ackBatches.delete(agentId);
    const agent = this.agents.get(agentId);
    if (!batch || !agent || this.ended) return;
    this.client.acknowledge(agent.info, batch).catch((err: unknown) => {
      // The agent re-sends the update later; the framework acknowledges it again.
      this.logger.warn({ agent_id: agentId, count: batch.length, err: errorMessage(err) }, 'acknowledgements not delivered');
    });
  }

  /**
   * RECONCILE: the latest known state of each task asked about (none: every live task of the
   * framework), sent without a uuid (nothing to acknowledge). Tasks on agents that have not
   * re-registered yet are answered once they do (or are lost).
   */
  reconcileTasks(frameworkId: string, tasks: ReadonlyArray<{ taskId: string; agentId?: string }>): void {
    if (tasks.length === 0) {
      for (const view of this.tasks.active()) {
        if (view.framework_id === frameworkId) this.reconciliationAnswer(frameworkId, view.framework_task_id ?? view.task_id, view);
      }
      return;
    }
    for (const { taskId, agentId } of tasks) {
      const view = this.taskOf(frameworkId, taskId);
      if (!view && agentId !== undefined && this.agents.get(agentId)?.status === 'recovering') {
        // Asked again (answered) once the agent re-registers or is removed, as Mesos does.
        let list = this.deferredReconciles.get(agentId);
        if (!list) this.deferredReconciles.set(agentId, (list = []));
        list.push({ frameworkId, taskId });
        continue;
      }
      this.reconciliationAnswer(frameworkId, taskId, view);
    }
  }

  /** An agent re-registered or was removed: kills waiting for it are sent, or answered once nobody is left. */
  private settleDeferredKills(): void {
    if (this.deferredKills.length === 0) return;
    const recovering = this.agents.recovering().length > 0;
    const waiting = this.deferredKills;
    this.deferredKills = [];
    for (const kill of waiting) {
      const view = this.taskOf(kill.frameworkId, kill.taskId);
      if (view) this.killFrameworkTask(kill.frameworkId, kill.taskId);
      else if (recovering) this.deferredKills.push(kill);
      else this.reconciliationAnswer(kill.frameworkId, kill.taskId, undefined);
    }
  }

  /** The agent re-registered (or was removed): answer what frameworks asked about its tasks meanwhile. */
  private answerDeferredReconciles(agentId: string): void {
    const list = this.deferredReconciles.get(agentId);
    if (!list) return;
    this.deferredReconciles.delete(agentId);
    for (const { frameworkId, taskId } of list) this.reconciliationAnswer(frameworkId, taskId, this.taskOf(frameworkId, taskId));
  }

  private reconciliationAnswer(frameworkId: string, taskId: string, view: TaskView | undefined): void {
    const driver = this.frameworks.get(frameworkId)?.driver;
    if (!driver) return;
    const latest = view?.statuses.at(-1);
    const status: TaskStatus = {
      task_id: taskId,
      state: view ? view.state : 'TASK_LOST',
      reason: 'REASON_RECONCILIATION',
      message: view ? (latest?.message ?? 'reconciliation') : 'the task is unknown to the master',
      source: 'SOURCE_MASTER',
      timestamp: latest?.timestamp ?? epochSeconds(this.clock),
      uuid: this.ids.uuid(),
    };
    if (view?.agent_id !== undefined) status.agent_id = view.agent_id;
    driver.update(status, false);
  }

  /** Every applied update of a scheduler-API framework's task goes to its framework, if it is connected. */
  private forward(view: TaskView, status: TaskStatus): void {
    if (view.framework_id === FRAMEWORK_ID) return;
    const entry = this.frameworks.get(view.framework_id);
    if (!entry || !wants(entry, status)) return;
    entry.driver?.update(this.forFramework(view, status), true);
  }

  /**
   * An agent's update: applied, and whether the agent must wait for the framework's acknowledgement
   * (`true`: 'received') or is done with it (`false`: 'acknowledged').
   */
  private applyFromAgent(update: TaskStatus): boolean {
    const outcome = this.apply(update);
    const view = this.tasks.get(update.task_id);
    if (!view || view.framework_id === FRAMEWORK_ID) return false;
    const entry = this.frameworks.get(view.framework_id);
    if (!entry) return false; // its framework is gone: nobody will acknowledge it
    if (!wants(entry, update)) return false; // not sent to it (TASK_KILLING without the capability)
    switch (outcome) {
      case 'applied':
        return true; // forwarded by the store's onApplied hook (or held until the framework is back)
      case 'duplicate':
        // The agent re-sends because no acknowledgement came: tell the framework again.
        entry.driver?.update(this.forFramework(view, update), true);
        return true;
      case 'superseded':
      case 'illegal':
      case 'unknown':
        return false;
      default:
        return assertNever(outcome, 'update outcome');
    }
  }

  // ---- the built-in task framework ----------------------------------------------------------------

  /** The built-in framework as a driver: it places its queue on offers at once, inside the master. */
  private readonly builtinDriver: FrameworkDriver = {
    offers: (offers) => this.placeQueued(offers),
    rescind: () => undefined, // it never holds an offer past the call that gave it
    update: () => undefined, // its tasks are the task API's; nothing to tell
    error: (message) => this.logger.error({ message }, 'built-in framework error'),
    close: () => undefined,
  };

  /** First fit, FIFO, within each offer; recovered waiting tasks wait until no agent is still recovering. */
  private placeQueued(offers: readonly Offer[]): void {
    const holdRecovered = this.agents.recovering().length > 0;
    for (const offer of offers) {
      const found = this.agents.get(offer.agentId);
      const agent = found?.status === 'active' ? found : undefined;
      let remaining = offer.resources;
      const chosen: LiveRecord[] = [];
      for (const record of this.queue) {
        if (holdRecovered && record.recovered === true) continue;
        if (!agent || !agent.info.executors.includes(executorFor(record.submission))) continue;
        const wanted = offeredPart(record.submission.resources);
        if (!containsResources(remaining, wanted)) continue;
        remaining = subtractResources(remaining, wanted);
        chosen.push(record);
      }
      if (chosen.length === 0 || !agent) {
        // Nothing of ours fits here: let others have it for a moment (a new submission revives us).
        this.returnOffer(offer, 1);
        continue;
      }
      const ids = new Set(chosen.map((r) => r.task_id));
      this.queue = this.queue.filter((r) => !ids.has(r.task_id));
      for (const record of chosen) this.launching.set(record.task_id, record);
      this.acceptOffers(FRAMEWORK_ID, [offer.id], chosen.map((record) => ({ task: taskInfo(record, agent.id) })), 0);
    }
    if (this.queue.length === 0) this.allocator.suppress(FRAMEWORK_ID);
  }

  private async launch(info: TaskInfo, agent: AgentRecord): Promise<void> {
    const record = this.launching.get(info.task_id);
    let failure: ReturnType<typeof classifyFailure> | undefined;
    let error: unknown;
    try {
      await this.client.launch(agent.info, info);
    } catch (err) {
      failure = classifyFailure(err);
      error = err;
    }
    if (this.ended) return;
    this.launching.delete(info.task_id);
    const view = this.tasks.get(info.task_id);
    if (!view) return;
    if (failure === undefined) {
      this.logger.info({ task_id: info.task_id, agent_id: agent.id }, 'task launched');
      if (record && !isTerminal(view.state)) this.setRecordAgent(info.task_id, agent.id);
      if (this.killRequested.has(info.task_id) && !isTerminal(view.state)) await this.sendKill(view);
    } else {
      switch (failure) {
        case 'refused':
          if (view.state !== 'TASK_STAGING') break; // the agent reported it after all
          if (this.killRequested.has(info.task_id)) {
            this.apply(masterStatus({ taskId: info.task_id, state: 'TASK_KILLED', message: 'killed before it was launched', clock: this.clock, ids: this.ids }));
            break;
          }
          this.logger.warn({ task_id: info.task_id, agent_id: agent.id, err: error }, 'agent refused connection');
          // Do not offer that agent to this framework again at once (that would spin); its timeout decides whether it is gone.
          this.release(info.task_id);
          this.allocator.decline(info.framework_id ?? FRAMEWORK_ID, agent.id, Math.min(this.agentTimeoutMs, REFUSED_PAUSE_MS) / 1000);
          if (record) {
            this.tasks.assign(info.task_id, undefined);
            this.queue.push(record);
            this.queue.sort((a, b) => a.seq - b.seq);
            this.allocator.revive(FRAMEWORK_ID);
            // Revive clears the filter just set; keep it for this agent.
            this.allocator.decline(FRAMEWORK_ID, agent.id, Math.min(this.agentTimeoutMs, REFUSED_PAUSE_MS) / 1000);
          } else {
            this.apply(
              masterStatus({
                taskId: info.task_id,
                agentId: agent.id,
                state: 'TASK_DROPPED',
                reason: 'REASON_AGENT_DISCONNECTED',
                message: `agent ${agent.id} could not be reached to launch the task: ${errorMessage(error)}`,
                clock: this.clock,
                ids: this.ids,
              }),
            );
          }
          break;
        case 'rejected':
          if (view.state !== 'TASK_STAGING') break;
          this.apply(
            masterStatus({
              taskId: info.task_id,
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
          this.logger.warn({ task_id: info.task_id, agent_id: agent.id, err: error }, 'launch outcome unknown; task stays staging');
          if (record && !isTerminal(view.state)) this.setRecordAgent(info.task_id, agent.id);
          break;
        default:
          assertNever(failure, 'launch failure');
      }
    }
    if (record) await this.persist().catch(() => undefined);
    this.allocateSoon();
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
    this.release(taskId);
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
    for (const agent of [...unreachable, ...removed]) this.dropAgentAllocation(agent.id);
    for (const agent of removed) this.answerDeferredReconciles(agent.id);
    if (removed.length > 0) this.settleDeferredKills();
    for (const agent of removed) {
      for (const taskId of [...(this.recordsByAgent.get(agent.id) ?? [])]) {
        this.loseRecord(taskId, agent.id, 'REASON_AGENT_REMOVED', `agent ${agent.id} did not re-register within the timeout and was removed`);
      }
      this.recordsByAgent.delete(agent.id);
    }
    if (removed.length > 0) void this.persist().catch(() => undefined);
    // Held tasks may be placeable now: ask again at once rather than after the decline filters.
    if (removed.length > 0 && this.queue.length > 0) this.allocator.revive(FRAMEWORK_ID);
    if (unreachable.length > 0 || removed.length > 0) this.allocateSoon();
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
    return { agents: this.agents.admitted(), tasks, frameworks: [...this.frameworks.values()].map((entry) => entry.record) };
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

/**
 * Whether a framework is told of this update. Mesos sends TASK_KILLING only to frameworks with the
 * TASK_KILLING_STATE capability; others see the task go from RUNNING to KILLED.
 */
function wants(entry: FrameworkEntry, status: TaskStatus): boolean {
  return status.state !== 'TASK_KILLING' || (entry.capabilities?.has('TASK_KILLING_STATE') ?? false);
}

/** What of a task's resources is offered and held (`pids` is a limit, never offered). */
function offeredPart(resources: Resources): Resources {
  const offered: Resources = { ...resources };
  delete offered.pids;
  return offered;
}

function describe(r: Resources): string {
  const ports = (r.ports ?? []).map((p) => (p.begin === p.end ? `${p.begin}` : `${p.begin}-${p.end}`)).join(',');
  return `cpus ${r.cpus}, mem ${r.mem}${r.disk === undefined ? '' : `, disk ${r.disk}`}${ports === '' ? '' : `, ports [${ports}]`}`;
}

/** The view of a task a scheduler-API framework launched. */
function frameworkView(info: TaskInfo, agent: AgentRecord, submittedAt: number): TaskView {
  const view: TaskView = {
    task_id: info.task_id,
    name: info.name,
    framework_id: info.framework_id ?? FRAMEWORK_ID,
    agent_id: agent.id,
    agent: agentRef(agent),
    state: 'TASK_STAGING',
    resources: info.resources,
    statuses: [],
    submitted_at: submittedAt,
  };
  if (info.command) view.command = info.command;
  if (info.container) view.container = info.container;
  if (info.framework_task_id !== undefined) view.framework_task_id = info.framework_task_id;
  return view;
}

function frameworkTaskKey(frameworkId: string, frameworkTaskId: string): string {
  return `${frameworkId}\u0000${frameworkTaskId}`;
}
