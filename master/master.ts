// A standalone master: one process, registry on local disk. It admits agents, keeps the task view,
// places waiting tasks first-fit and launches them on agents over HTTP.
import { createServer, type Server } from 'node:http';
import { hostname as osHostname } from 'node:os';
import {
  NotFoundError,
  compileValidator,
  epochSeconds,
  errorMessage,
  createLogger,
  randomIds,
  registerRequestSchema,
  statusUpdateBatchRequestSchema,
  statusUpdateRequestSchema,
  systemClock,
  taskIdFor,
  assertNever,
  closeHttpServer,
  isTerminal,
  listenHttp,
  type Clock,
  type HeartbeatResponse,
  type IdSource,
  type Logger,
  type RegisterResponse,
  type StatusUpdateBatchResponse,
  type StatusUpdateResponse,
  type TaskInfo,
  type TaskState,
  type TaskSubmission,
  type TaskView,
  type TimerHandle,
} from '../common/index.js';
import {
  AgentManager,
  HttpAgentClient,
  agentRef,
  classifyFailure,
  type AgentClient,
  type AgentRecord,
} from './agents/index.js';
import { MasterStartError } from './errors.js';
import { FRAMEWORK_ID } from './framework.js';
import { createApp, type MasterApi } from './http/index.js';
import { MasterMetrics, type MetricsSnapshot } from './metrics.js';
import { buildMasterState, type MasterState } from './operator-state.js';
import { placeTasks, sumResources, type ScalarResources } from './placement/index.js';
import { FileRegistry, type PendingSubmission, type Registry } from './registry/index.js';
import { executorFor, validateSubmission } from './submission.js';
import { TaskStore, masterStatus } from './tasks/index.js';

export interface MasterOptions {
  /** Bind address, default '0.0.0.0'. */
  host?: string;
  /** 5050 in the CLI; 0 in tests. */
  port: number;
  /** Default: 127.0.0.1 when host is 0.0.0.0 (or ::), else host. */
  advertiseIp?: string;
  /** The registry lives in <workDir>/master/. */
  workDir: string;
  /** --agent-timeout; default 30000. */
  agentTimeoutMs?: number;
  /** Told to agents on registration; default 5000. */
  heartbeatIntervalMs?: number;
  logger?: Logger;
  clock?: Clock;
  ids?: IdSource;
  /** Test seams. */
  registry?: Registry;
  agentClient?: AgentClient;
  /** How many terminal tasks /master/state and the task API keep; default 1000. */
  completedTasksLimit?: number;
}

interface PendingEntry extends PendingSubmission {
  /** FIFO order across restarts and refused launches. */
  seq: number;
}

/** How long an agent that refused a launch connection is left out of placement. */
const REFUSED_PAUSE_MS = 5000;

const validateRegister = compileValidator(registerRequestSchema);
const validateStatusUpdate = compileValidator(statusUpdateRequestSchema);
const validateStatusUpdateBatch = compileValidator(statusUpdateBatchRequestSchema);

export class Master implements MasterApi {
  readonly port: number;
  readonly url: string;
  readonly id: string;

  private readonly tasks: TaskStore;
  private readonly agents: AgentManager;
  private readonly metrics: MasterMetrics;
  /** Waiting for room, FIFO. */
  private queue: PendingEntry[] = [];
  /** Placed, launch call in flight: still persisted as pending until the agent has it. */
  private readonly launching = new Map<string, PendingEntry>();
  private readonly killRequested = new Set<string>();
  private readonly graceSeconds = new Map<string, number>();
  /** Agents that refused a launch connection: not offered until this time (ms) or until they re-register. */
  private readonly refusedUntil = new Map<string, number>();
  private readonly retryTimers = new Set<TimerHandle>();
  private nextSeq = 0;
  /** The registry write under way, and the one queued behind it (see persist()). */
  private saving: Promise<void> | undefined;
  private nextSave: Promise<void> | undefined;
  private sweepTimer: TimerHandle | undefined;
  private stopped = false;
  private readonly startTime: number;

  private readonly server: Server;
  private readonly registry: Registry;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly ids: IdSource;
  private readonly client: AgentClient;
  private readonly agentTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly advertiseIp: string;

  private constructor(parts: {
    server: Server;
    port: number;
    registry: Registry;
    logger: Logger;
    clock: Clock;
    ids: IdSource;
    client: AgentClient;
    agentTimeoutMs: number;
    heartbeatIntervalMs: number;
    advertiseIp: string;
    completedLimit: number;
  }) {
    this.server = parts.server;
    this.port = parts.port;
    this.registry = parts.registry;
    this.logger = parts.logger;
    this.clock = parts.clock;
    this.ids = parts.ids;
    this.client = parts.client;
    this.agentTimeoutMs = parts.agentTimeoutMs;
    this.heartbeatIntervalMs = parts.heartbeatIntervalMs;
    this.advertiseIp = parts.advertiseIp;
    const ip = parts.advertiseIp.includes(':') ? `[${parts.advertiseIp}]` : parts.advertiseIp;
    this.url = `http://${ip}:${parts.port}`;
    this.id = parts.ids.uuid();
    this.startTime = epochSeconds(parts.clock);
    this.tasks = new TaskStore({ logger: parts.logger, completedLimit: parts.completedLimit });
    this.agents = new AgentManager({
      tasks: this.tasks,
      clock: parts.clock,
      ids: parts.ids,
      logger: parts.logger,
      agentTimeoutMs: parts.agentTimeoutMs,
    });
    this.metrics = new MasterMetrics(() => this.metricsSnapshot());
  }

  static async create(options: MasterOptions): Promise<Master> {
    const host = options.host ?? '0.0.0.0';
    const advertiseIp = options.advertiseIp ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
    const logger = options.logger ?? createLogger('master');
    const registry = options.registry ?? (await FileRegistry.create({ workDir: options.workDir }));
    const saved = await registry.load();
    const server = createServer();
    const port = await listen(server, options.port, host);
    // From here to the handler being attached nothing awaits, so no request sees a half-built master.
    const master = new Master({
      server,
      port,
      registry,
      logger,
      clock: options.clock ?? systemClock,
      ids: options.ids ?? randomIds,
      client: options.agentClient ?? new HttpAgentClient(),
      agentTimeoutMs: options.agentTimeoutMs ?? 30_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 5_000,
      advertiseIp,
      completedLimit: options.completedTasksLimit ?? 1000,
    });
    master.recover(saved.agents, saved.pending);
    server.on('request', createApp(master, logger).callback());
    master.scheduleSweep();
    logger.info(
      { master_id: master.id, url: master.url, agents: saved.agents.length, pending: saved.pending.length },
      'master started',
    );
    return master;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweepTimer) this.clock.clearTimeout(this.sweepTimer);
    for (const timer of this.retryTimers) this.clock.clearTimeout(timer);
    this.retryTimers.clear();
    await closeHttpServer(this.server);
    // Let a save already under way land; later ones are dropped (`stopped`).
    await this.registry.save(this.registryState()).catch((err: unknown) => {
      this.logger.error({ err }, 'final registry save failed');
    });
    this.logger.info({ master_id: this.id }, 'master stopped');
  }

  // ---- task API -------------------------------------------------------------------------------

  async submitTask(body: unknown): Promise<TaskView> {
    const submission = validateSubmission(body);
    const entry: PendingEntry = {
      seq: this.nextSeq++,
      task_id: taskIdFor(submission.name, this.ids),
      submission,
      submitted_at: epochSeconds(this.clock),
    };
    const view = this.tasks.add(pendingView(entry));
    if (submission.kill_grace_period_seconds !== undefined) {
      this.graceSeconds.set(entry.task_id, submission.kill_grace_period_seconds);
    }
    this.queue.push(entry);
    this.logger.info({ task_id: entry.task_id, resources: submission.resources }, 'task submitted');
    // Placed at once, so the launch overlaps the registry write; the registry counts a task whose
    // launch is in flight as pending, so the write below still holds it.
    this.schedule();
    // The answer shows the task as submitted (and placed), not what its agent reports meanwhile.
    const answer = structuredClone(view);
    // Durable before the client hears 201: a waiting task is never lost.
    await this.persist();
    return answer;
  }

  listTasks(state?: TaskState): TaskView[] {
    return this.tasks.list(state);
  }

  getTask(taskId: string): TaskView {
    const view = this.tasks.get(taskId);
    if (!view) throw new NotFoundError('task', taskId);
    return view;
  }

  async killTask(taskId: string): Promise<TaskView> {
    const view = this.getTask(taskId);
    if (isTerminal(view.state)) return view;
    const queued = this.queue.findIndex((entry) => entry.task_id === taskId);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.apply(
        masterStatus({
          taskId,
          state: 'TASK_KILLED',
          message: 'killed before it was launched',
          clock: this.clock,
          ids: this.ids,
        }),
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
      master: {
        id: this.id,
        hostname: osHostname(),
        ip: this.advertiseIp,
        port: this.port,
        startTime: this.startTime,
      },
      agents: this.agents.list(),
      usedBy: (agentId) => this.usedBy(agentId),
      liveTasks: this.tasks.active(),
      completedTasks: this.tasks.completed(),
    });
  }

  metricsSnapshot(): MetricsSnapshot {
    const counts = this.tasks.countByState();
    const agents = this.agents.list();
    const active = agents.filter((a) => a.status === 'active');
    const used = active.map((a) => this.usedBy(a.id));
    return {
      'master/elected': 1,
      'master/uptime_secs': epochSeconds(this.clock) - this.startTime,
      'master/slaves_active': active.length,
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

  prometheus(): Promise<{ contentType: string; text: string }> {
    return this.metrics.prometheus();
  }

  // ---- internal agent endpoints ---------------------------------------------------------------

  async register(body: unknown): Promise<RegisterResponse> {
    const request = validateRegister(body);
    const result = this.agents.register(request);
    this.refusedUntil.delete(result.agent.id);
    for (const taskId of result.claimedPendingIds) this.unqueue(taskId);
    for (const { task } of request.tasks) {
      if (task.kill_grace_period_seconds !== undefined) this.graceSeconds.set(task.task_id, task.kill_grace_period_seconds);
    }
    await this.persist();
    // Place after this answer is on its way, so the agent usually knows its id before a launch comes.
    setImmediate(() => this.schedule());
    return {
      agent_id: result.agent.id,
      master_id: this.id,
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

  private recover(agents: Parameters<AgentManager['recover']>[0], pending: readonly PendingSubmission[]): void {
    this.agents.recover(agents);
    for (const saved of pending) {
      const entry: PendingEntry = { ...saved, seq: this.nextSeq++ };
      if (this.tasks.get(entry.task_id)) continue;
      this.tasks.add(pendingView(entry));
      if (saved.submission.kill_grace_period_seconds !== undefined) {
        this.graceSeconds.set(entry.task_id, saved.submission.kill_grace_period_seconds);
      }
      this.queue.push(entry);
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
        if (outcome.becameTerminal) {
          this.killRequested.delete(update.task_id);
          this.graceSeconds.delete(update.task_id);
          // Its resources are free again.
          this.schedule();
        }
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

  /** Places what waits on what is free. Synchronous, so two calls never place the same resources. */
  private schedule(): void {
    if (this.stopped || this.queue.length === 0) return;
    const now = this.clock.now();
    const active = this.agents.active().filter((agent) => (this.refusedUntil.get(agent.id) ?? 0) <= now);
    if (active.length === 0) return;
    const placements = placeTasks(
      this.queue.map((entry) => ({
        task_id: entry.task_id,
        resources: entry.submission.resources,
        executor: executorFor(entry.submission),
      })),
      active.map((agent) => ({
        agent_id: agent.id,
        resources: agent.info.resources,
        used: this.usedBy(agent.id),
        executors: agent.info.executors,
      })),
    );
    for (const { task_id, agent_id } of placements) {
      const entry = this.queue.find((e) => e.task_id === task_id);
      const agent = this.agents.get(agent_id);
      if (!entry || !agent) continue;
      this.queue = this.queue.filter((e) => e !== entry);
      this.launching.set(task_id, entry);
      this.tasks.assign(task_id, agentRef(agent));
      this.logger.info({ task_id, agent_id }, 'task placed');
      void this.launch(entry, agent);
    }
  }

  private async launch(entry: PendingEntry, agent: AgentRecord): Promise<void> {
    const info = taskInfo(entry, agent.id);
    let failure: ReturnType<typeof classifyFailure> | undefined;
    let error: unknown;
    try {
      await this.client.launch(agent.info, info);
    } catch (err) {
      failure = classifyFailure(err);
      error = err;
    }
    if (this.stopped) return;
    this.launching.delete(entry.task_id);
    const view = this.tasks.get(entry.task_id);
    if (!view) return;
    if (failure === undefined) {
      this.logger.info({ task_id: entry.task_id, agent_id: agent.id }, 'task launched');
      if (this.killRequested.has(entry.task_id) && !isTerminal(view.state)) await this.sendKill(view);
    } else {
      switch (failure) {
        case 'refused':
          if (view.state !== 'TASK_STAGING') break; // the agent reported it after all
          if (this.killRequested.has(entry.task_id)) {
            this.apply(
              masterStatus({
                taskId: entry.task_id,
                state: 'TASK_KILLED',
                message: 'killed before it was launched',
                clock: this.clock,
                ids: this.ids,
              }),
            );
            break;
          }
          this.logger.warn({ task_id: entry.task_id, agent_id: agent.id, err: error }, 'agent refused connection; task back to pending');
          this.holdOff(agent.id);
          this.tasks.assign(entry.task_id, undefined);
          this.queue.push(entry);
          this.queue.sort((a, b) => a.seq - b.seq);
          break;
        case 'rejected':
          if (view.state !== 'TASK_STAGING') break;
          this.apply(
            masterStatus({
              taskId: entry.task_id,
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
          this.logger.warn({ task_id: entry.task_id, agent_id: agent.id, err: error }, 'launch outcome unknown; task stays staging');
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
    const agent = view.agent_id === undefined ? undefined : this.agents.get(view.agent_id);
    if (!agent) return;
    try {
      await this.client.kill(agent.info, view.task_id, this.graceSeconds.get(view.task_id));
      this.logger.info({ task_id: view.task_id, agent_id: agent.id }, 'kill sent');
    } catch (err) {
      // The agent's timeout or re-registration settles the task.
      this.logger.warn({ task_id: view.task_id, agent_id: agent.id, err }, 'kill not delivered');
    }
  }

  private unqueue(taskId: string): void {
    this.queue = this.queue.filter((entry) => entry.task_id !== taskId);
    this.launching.delete(taskId);
  }

  private usedBy(agentId: string): ScalarResources {
    return sumResources(this.tasks.onAgent(agentId).map((view) => view.resources));
  }

  private scheduleSweep(): void {
    if (this.stopped) return;
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

  /** Marks silent agents unreachable (their tasks LOST). Public for tests with a manual clock. */
  sweep(): void {
    const lost = this.agents.sweep();
    if (lost.length > 0) this.schedule();
  }

  private registryState(): { agents: ReturnType<AgentManager['admitted']>; pending: PendingSubmission[] } {
    const pending = [...this.queue, ...this.launching.values()]
      .sort((a, b) => a.seq - b.seq)
      .map(({ task_id, submission, submitted_at }) => ({ task_id, submission, submitted_at }));
    return { agents: this.agents.admitted(), pending };
  }

  /**
   * Group commit: while one registry write is under way, every persist() asked for meanwhile shares
   * the single write that follows it. That write snapshots the state when it starts, so it holds
   * every change its callers made before asking; each caller still resolves only once that is durable.
   */
  private persist(): Promise<void> {
    if (this.stopped) return Promise.resolve();
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
    if (this.stopped) return Promise.resolve();
    const save = this.registry.save(this.registryState());
    this.saving = save;
    const settled = (): void => {
      if (this.saving === save) this.saving = undefined;
    };
    save.then(settled, settled);
    return save;
  }
}

function pendingView(entry: PendingSubmission): TaskView {
  const { submission } = entry;
  const view: TaskView = {
    task_id: entry.task_id,
    name: submission.name,
    framework_id: FRAMEWORK_ID,
    state: 'TASK_STAGING',
    resources: submission.resources,
    statuses: [],
    submitted_at: entry.submitted_at,
  };
  if (submission.command) view.command = submission.command;
  if (submission.container) view.container = submission.container;
  return view;
}

function taskInfo(entry: PendingSubmission, agentId: string): TaskInfo {
  const s: TaskSubmission = entry.submission;
  const info: TaskInfo = {
    task_id: entry.task_id,
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

function listen(server: Server, port: number, host: string): Promise<number> {
  return listenHttp(server, port, host).catch((err: unknown) => {
    throw new MasterStartError(`cannot listen on ${host}:${port}: ${errorMessage(err)}`, { cause: err });
  });
}
