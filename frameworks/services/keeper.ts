// The instance keeper: the pure core of the services framework. It holds the declared apps and the
// tasks it knows, and decides — fed offers, status updates, health results and the time — what to
// launch, what to kill and when a deployment is done. No I/O: the glue (service.ts) carries its
// decisions to the master and persists what `onChange` reports.
//
// One rule drives everything (Marathon's deployment semantics): an app wants `instances` healthy tasks
// of its current config version. While tasks of an older version live (a rolling upgrade), new ones
// start only while the total stays ≤ instances × (1 + maximumOverCapacity), and old ones are killed
// only while the healthy count stays ≥ instances × minimumHealthCapacity.
import {
  ConflictError,
  assertNever,
  NotFoundError,
  fromMesosResources,
  isTerminal,
  portList,
  randomIds,
  subtractResources,
  takePorts,
  containsResources,
  type Clock,
  type IdSource,
  type MesosOffer,
  type MesosTaskInfo,
  type MesosTaskStatus,
  type Resources,
} from '../../common/index.js';
import { configChanged, isCommandCheck, type AppDefinition } from './app-definition.js';
import { afterFailure, type BackoffState } from './backoff.js';
import { satisfiesAll, type ConstraintContext, type Placement } from './constraints.js';
import { AppLockedError, ServicesError } from './errors.js';
import { deploymentSteps, type AppRecord, type Deployment, type DeploymentAction, type HealthResult, type KillReason, type ServiceEvent, type TaskRecord } from './model.js';
import { appSlug, buildTaskInfo } from './task-builder.js';

export type StoreChange =
  | { kind: 'app'; id: string; record: AppRecord | undefined }
  | { kind: 'task'; id: string; record: TaskRecord | undefined }
  | { kind: 'deployment'; id: string; record: Deployment | undefined };

export interface KeeperOptions {
  clock: Clock;
  ids?: IdSource;
  emit?: (event: ServiceEvent) => void;
  /** Every change to persist, in order. */
  onChange?: (change: StoreChange) => void;
  /** refuse_seconds for offers no app needs (default 120 s). */
  idleRefuseSeconds?: number;
  /** Resend a kill that no terminal update answered within this long (default 15 s). */
  killRetryMs?: number;
  /** An offer's hostname or attribute value counts for GROUP_BY this long after it was last offered (default 60 s). */
  valueMemoryMs?: number;
  /** A task RUNNING (and healthy) this long resets its app's backoff (default 10 s). */
  stableAfterMs?: number;
  /** After (re)subscribing, launch nothing until every known task was reconciled or this long passed (default 5 s). */
  reconcileTimeoutMs?: number;
}

export interface KillOrder {
  taskId: string;
  agentId: string;
}

export interface OfferDecision {
  accept: Array<{ offerId: string; tasks: MesosTaskInfo[] }>;
  decline: Array<{ offerId: string; refuseSeconds: number }>;
}

export interface TickResult {
  kills: KillOrder[];
  /** Whether any app lacks tasks (revive when this turns true, suppress when false). */
  wantsOffers: boolean;
}

export interface DeploymentResult {
  deploymentId: string;
  version: string;
}

const DEFAULT_REFUSE_SECONDS = 5;
/** refuse_seconds while reconciliation is under way: the offers come back soon after it ends. */
const RECONCILING_REFUSE_SECONDS = 1;

export class Keeper {
  private readonly apps = new Map<string, AppRecord>();
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly deployments = new Map<string, Deployment>();
  private readonly backoff = new Map<string, BackoffState>();
  /** Launches each app still needs, from the last plan. */
  private wanted = new Map<string, number>();
  private pendingKills: KillOrder[] = [];
  /**
   * Tasks whose health this leader does not know yet (restored from the store or adopted): they count as
   * available — 'unknown', not unhealthy — until every check passed or one failed maxConsecutiveFailures
   * times. A leader that took over must not read "no result yet" as "unhealthy" and kill them all.
   */
  private readonly healthUnknown = new Set<string>();
  /** field → value → when an offer last showed it (hostname and every attribute), for GROUP_BY. */
  private readonly seenValues = new Map<string, Map<string, number>>();
  private readonly constraintContext: ConstraintContext = { valuesSeen: (field) => this.valuesSeen(field) };
  /** Known tasks the master has not yet answered a reconciliation for, and until when to wait for them. */
  private unreconciled = new Set<string>();
  private reconcileDeadline = 0;
  private readonly clock: Clock;
  private readonly ids: IdSource;
  private readonly emitEvent: (event: ServiceEvent) => void;
  private readonly onChange: (change: StoreChange) => void;
  private readonly idleRefuseSeconds: number;
  private readonly killRetryMs: number;
  private readonly stableAfterMs: number;
  private readonly reconcileTimeoutMs: number;
  private readonly valueMemoryMs: number;

  constructor(options: KeeperOptions) {
    this.clock = options.clock;
    this.ids = options.ids ?? randomIds;
    this.emitEvent = options.emit ?? (() => undefined);
    this.onChange = options.onChange ?? (() => undefined);
    this.idleRefuseSeconds = options.idleRefuseSeconds ?? 120;
    this.killRetryMs = options.killRetryMs ?? 15_000;
    this.stableAfterMs = options.stableAfterMs ?? 10_000;
    this.reconcileTimeoutMs = options.reconcileTimeoutMs ?? 5_000;
    this.valueMemoryMs = options.valueMemoryMs ?? 60_000;
  }

  /** Restores what a previous leader persisted (before any offer or update arrives). */
  load(state: { apps: AppRecord[]; tasks: TaskRecord[]; deployments: Deployment[] }): void {
    for (const app of state.apps) this.apps.set(app.definition.id, app);
    for (const task of state.tasks) {
      // Stored health is stale (results are not persisted one by one): start over, as 'unknown'.
      this.tasks.set(task.taskId, { ...task, health: task.health.map(() => ({ consecutiveFailures: 0 })) });
      this.healthUnknown.add(task.taskId);
    }
    for (const deployment of state.deployments) {
      // Stored before deployments had steps: the plan of its action, from its first step.
      const steps = Array.isArray(deployment.steps) && deployment.steps.length > 0 ? deployment.steps : deploymentSteps(deployment.action);
      const currentStep = Math.min(Math.max(0, deployment.currentStep ?? 0), steps.length - 1);
      this.deployments.set(deployment.id, { ...deployment, steps, currentStep });
    }
  }

  // ---- reads -------------------------------------------------------------------------------------

  listApps(): AppRecord[] {
    return [...this.apps.values()].sort((a, b) => a.definition.id.localeCompare(b.definition.id));
  }

  getApp(id: string): AppRecord | undefined {
    return this.apps.get(id);
  }

  /** The app's tasks that have not ended. */
  tasksOf(appId: string): TaskRecord[] {
    return [...this.tasks.values()].filter((t) => t.appId === appId);
  }

  allTasks(): TaskRecord[] {
    return [...this.tasks.values()];
  }

  getTask(taskId: string): TaskRecord | undefined {
    return this.tasks.get(taskId);
  }

  listDeployments(): Deployment[] {
    return [...this.deployments.values()].sort((a, b) => a.startedAt - b.startedAt);
  }

  deploymentsOf(appId: string): Deployment[] {
    return this.listDeployments().filter((d) => d.appId === appId);
  }

  backoffOf(appId: string): BackoffState | undefined {
    return this.backoff.get(appId);
  }

  /**
   * Marks every known task as awaiting its reconciliation answer (call when (re)subscribed, before
   * reconciling): until all are answered or reconcileTimeoutMs passed, offers are declined, so nothing is
   * launched on a picture of the cluster that may be stale.
   */
  beginReconciliation(): void {
    this.unreconciled = new Set(this.tasks.keys());
    this.reconcileDeadline = this.clock.now() + this.reconcileTimeoutMs;
  }

  /** Whether launches wait for reconciliation answers. */
  get reconciling(): boolean {
    if (this.unreconciled.size === 0) return false;
    if (this.clock.now() >= this.reconcileDeadline) {
      this.unreconciled.clear();
      return false;
    }
    return true;
  }

  /** Healthy, or RUNNING with a health this leader does not know yet and no check failed for good. */
  isAvailable(task: TaskRecord): boolean {
    if (this.isHealthy(task)) return true;
    if (!this.healthUnknown.has(task.taskId) || task.state !== 'TASK_RUNNING' || task.killing) return false;
    const checks = this.apps.get(task.appId)?.definition.healthChecks ?? [];
    return checks.every((check, i) => check.maxConsecutiveFailures <= 0 || (task.health[i]?.consecutiveFailures ?? 0) < check.maxConsecutiveFailures);
  }

  /** Running and passing every health check (a task without checks is healthy once RUNNING). */
  isHealthy(task: TaskRecord): boolean {
    if (task.state !== 'TASK_RUNNING' || task.killing) return false;
    return task.health.every((h) => h.alive === true);
  }

  // ---- app changes (the API calls these) ----------------------------------------------------------

  createApp(definition: AppDefinition): { app: AppRecord; deployment: DeploymentResult } {
    if (this.apps.has(definition.id)) throw new ConflictError(`an app with id '${definition.id}' already exists`);
    const version = this.isoNow();
    const app: AppRecord = { definition, version, configVersion: version, lastScalingAt: version };
    this.setApp(app);
    this.backoff.delete(definition.id);
    return { app, deployment: this.startDeployment(definition.id, 'StartApplication', version) };
  }

  /** PUT: a new definition (creates the app if absent). A scale keeps tasks; any other change replaces them. */
  updateApp(definition: AppDefinition, force = false): DeploymentResult {
    const existing = this.apps.get(definition.id);
    if (!existing) return this.createApp(definition).deployment;
    this.checkLock(definition.id, force);
    const version = this.nextVersion(existing.version);
    const changed = configChanged(existing.definition, definition);
    const app: AppRecord = {
      definition,
      version,
      configVersion: changed ? version : existing.configVersion,
      lastScalingAt: changed || existing.definition.instances !== definition.instances ? version : existing.lastScalingAt,
    };
    this.setApp(app);
    if (changed) this.backoff.delete(definition.id);
    return this.startDeployment(definition.id, changed ? 'RestartApplication' : 'ScaleApplication', version);
  }

  /** Replaces every task by a new one, as a rolling upgrade. */
  restartApp(id: string, force = false): DeploymentResult {
    const existing = this.requireApp(id);
    this.checkLock(id, force);
    const version = this.nextVersion(existing.version);
    this.setApp({ ...existing, version, configVersion: version });
    return this.startDeployment(id, 'RestartApplication', version);
  }

  deleteApp(id: string, force = false): DeploymentResult {
    this.requireApp(id);
    this.checkLock(id, force);
    this.apps.delete(id);
    this.backoff.delete(id);
    this.wanted.delete(id);
    this.onChange({ kind: 'app', id, record: undefined });
    const result = this.startDeployment(id, 'StopApplication', this.isoNow());
    this.emit('app_terminated_event', { appId: id });
    return result;
  }

  /**
   * Kills tasks of an app through the API (DELETE /v2/apps/{id}/tasks[/{taskId}], POST /v2/tasks/delete):
   * the listed ones (404 for one that is not the app's), else all of them, on `host` only if given.
   * Without `scale` the app keeps its instances, so every killed task is replaced (no backoff: nothing
   * failed); with `scale` its instances drop by the number killed — a stored new version and a
   * ScaleApplication deployment — and nothing is replaced. Tasks already being killed are not counted twice.
   */
  killTasks(
    appId: string,
    select: { taskIds?: readonly string[]; host?: string },
    options: { scale?: boolean; force?: boolean } = {},
  ): { killed: TaskRecord[]; deployment?: DeploymentResult } {
    const existing = this.requireApp(appId);
    let tasks = this.tasksOf(appId);
    if (select.taskIds !== undefined) {
      tasks = select.taskIds.map((taskId) => {
        const task = this.tasks.get(taskId);
        if (!task || task.appId !== appId) throw new ServicesError('NOT_FOUND', `app '${appId}' has no task '${taskId}'`);
        return task;
      });
    }
    if (select.host !== undefined) tasks = tasks.filter((t) => t.host === select.host);
    if (options.scale) this.checkLock(appId, options.force ?? false);
    const fresh = tasks.filter((t) => !t.killing);
    for (const task of fresh) this.kill(task, 'user');
    if (!options.scale) return { killed: tasks };
    const version = this.nextVersion(existing.version);
    const instances = Math.max(0, existing.definition.instances - fresh.length);
    this.setApp({ ...existing, definition: { ...existing.definition, instances }, version, lastScalingAt: version });
    return { killed: tasks, deployment: this.startDeployment(appId, 'ScaleApplication', version) };
  }

  // ---- what the master tells us ------------------------------------------------------------------

  /** A status update (or a reconciliation answer). */
  update(status: MesosTaskStatus): void {
    const taskId = status.task_id.value;
    this.unreconciled.delete(taskId);
    const task = this.tasks.get(taskId) ?? this.adopt(status);
    if (!task) {
      // A task of no app we have (a deleted app's): it must not keep running unowned.
      if (!isTerminal(status.state) && status.agent_id) this.pendingKills.push({ taskId, agentId: status.agent_id.value });
      return;
    }
    const now = this.clock.now();
    if (status.agent_id) task.agentId = status.agent_id.value;
    const previous = task.state;
    task.state = status.state;
    if (status.state === 'TASK_RUNNING' && task.startedAt === undefined) task.startedAt = now;
    if (previous !== status.state) {
      this.emit('status_update_event', {
        slaveId: task.agentId,
        taskId,
        taskStatus: status.state,
        message: status.message ?? '',
        appId: task.appId,
        host: task.host,
        ports: task.ports,
        version: task.version,
      });
    }
    if (status.healthy !== undefined) this.agentHealth(task, status);
    if (isTerminal(status.state)) {
      this.tasks.delete(taskId);
      this.healthUnknown.delete(taskId);
      this.onChange({ kind: 'task', id: taskId, record: undefined });
      const expected = task.killing !== undefined && task.killing.reason !== 'unhealthy';
      const app = this.apps.get(task.appId);
      if (!expected && app) this.backoff.set(app.definition.id, afterFailure(app.definition, this.backoff.get(app.definition.id), now));
    } else if (previous !== status.state) {
      this.onChange({ kind: 'task', id: taskId, record: task });
    }
  }

  /** One health check result of a task (check `index` of its app). */
  healthResult(taskId: string, index: number, ok: boolean, cause?: string): void {
    const task = this.tasks.get(taskId);
    const app = task ? this.apps.get(task.appId) : undefined;
    const check = app?.definition.healthChecks[index];
    if (!task || !app || !check || task.killing) return;
    const now = this.clock.now();
    const known = (task.health[index] ??= { consecutiveFailures: 0 });
    // Failures before the first success within the grace period do not count: the task is starting.
    if (!ok && known.firstSuccess === undefined && now - (task.startedAt ?? task.stagedAt) < check.gracePeriodSeconds * 1000) {
      known.lastFailure = now;
      if (cause !== undefined) known.lastFailureCause = cause;
      return;
    }
    const result = this.recordHealth(task, app, index, ok, cause, true);
    if (!ok && check.maxConsecutiveFailures > 0 && result.consecutiveFailures >= check.maxConsecutiveFailures) {
      this.emit('unhealthy_task_kill_event', {
        appId: task.appId,
        taskId,
        version: task.version,
        reason: result.lastFailureCause ?? 'health check failed',
        host: task.host,
        slaveId: task.agentId,
      });
      this.kill(task, 'unhealthy');
    }
  }

  /**
   * The agent's verdict on the app's COMMAND check (`healthy` in a status update: sent with the first
   * result and every change, and repeated on later updates). The agent applies the grace period and kills
   * the task after consecutive_failures itself, so nothing is killed from here; a task it killed for that
   * (terminal, healthy false) is reported as an unhealthy kill and replaced like any failed task.
   */
  private agentHealth(task: TaskRecord, status: MesosTaskStatus): void {
    const app = this.apps.get(task.appId);
    const index = app ? app.definition.healthChecks.findIndex(isCommandCheck) : -1;
    if (!app || index < 0 || status.healthy === undefined) return;
    if (isTerminal(status.state)) {
      if (!status.healthy && !task.killing) {
        this.emit('unhealthy_task_kill_event', {
          appId: task.appId,
          taskId: task.taskId,
          version: task.version,
          reason: status.message ?? 'COMMAND health check failed',
          host: task.host,
          slaveId: task.agentId,
        });
      }
      return;
    }
    if (task.killing) return;
    // A repeated verdict on an unrelated update is not another failure.
    const newFailure = task.health[index]?.alive !== false || status.reason === 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED';
    this.recordHealth(task, app, index, status.healthy, status.message ?? 'COMMAND health check failed', newFailure);
  }

  /**
   * Records one counted result of check `index` (the framework's own probe or the agent's verdict), and
   * says so when the task's health flips.
   */
  private recordHealth(task: TaskRecord, app: AppRecord, index: number, ok: boolean, cause: string | undefined, countFailure: boolean): HealthResult {
    const now = this.clock.now();
    const result = (task.health[index] ??= { consecutiveFailures: 0 });
    const wasAlive = result.alive;
    if (ok) {
      result.consecutiveFailures = 0;
      result.lastSuccess = now;
      result.firstSuccess ??= now;
      result.alive = true;
    } else {
      result.lastFailure = now;
      if (cause !== undefined) result.lastFailureCause = cause;
      if (countFailure) result.consecutiveFailures++;
      result.alive = false;
    }
    this.settleUnknownHealth(task, app);
    if (wasAlive !== result.alive) {
      this.emit('health_status_changed_event', { appId: task.appId, taskId: task.taskId, instanceId: task.taskId, version: task.version, alive: result.alive });
    }
    return result;
  }

  /** A task of unknown health (restored or adopted) whose every check now passed is known healthy. */
  private settleUnknownHealth(task: TaskRecord, app: AppRecord): void {
    if (this.healthUnknown.has(task.taskId) && task.health.length === app.definition.healthChecks.length && task.health.every((h) => h.alive === true)) {
      this.healthUnknown.delete(task.taskId);
    }
  }

  // ---- decisions ---------------------------------------------------------------------------------

  /**
   * Plans every app: which tasks to kill now (scale down, upgrade progress, unhealthy, orphans,
   * unanswered kills), how many launches each app wants, which deployments finished.
   */
  tick(): TickResult {
    this.plan();
    const kills = dedupe(this.pendingKills);
    this.pendingKills = [];
    return { kills, wantsOffers: this.wanted.size > 0 };
  }

  private plan(): void {
    const now = this.clock.now();
    const wanted = new Map<string, number>();
    for (const app of this.apps.values()) {
      const plan = this.planApp(app);
      for (const { task, reason } of plan.kill) this.kill(task, reason);
      if (plan.launch > 0) wanted.set(app.definition.id, plan.launch);
      this.resetBackoffIfStable(app, now);
    }
    for (const task of this.tasks.values()) {
      if (!this.apps.has(task.appId) && !task.killing) this.kill(task, 'delete');
      else if (task.killing && now - task.killing.at >= this.killRetryMs) {
        task.killing.at = now;
        this.pendingKills.push({ taskId: task.taskId, agentId: task.agentId });
      }
    }
    this.wanted = wanted;
    this.finishDeployments();
  }

  /** Uses offers for the launches apps want (constraints, resources, backoff); declines the rest. */
  offers(offers: readonly MesosOffer[]): OfferDecision {
    this.plan();
    const now = this.clock.now();
    const decision: OfferDecision = { accept: [], decline: [] };
    if (this.reconciling) {
      for (const offer of offers) decision.decline.push({ offerId: offer.id.value, refuseSeconds: RECONCILING_REFUSE_SECONDS });
      return decision;
    }
    // The whole batch first: GROUP_BY then knows every value on offer before it places the first task.
    for (const offer of offers) this.rememberValues(offer, now);
    for (const offer of offers) {
      const tasks = this.useOffer(offer, now);
      if (tasks.length > 0) decision.accept.push({ offerId: offer.id.value, tasks });
      else decision.decline.push({ offerId: offer.id.value, refuseSeconds: this.refuseSeconds(now) });
    }
    return decision;
  }

  /**
   * Forgets launches the glue could not carry out (the task could not be stored first, or the ACCEPT
   * failed): the tasks are wanted again at the next offer, without a backoff.
   */
  abandonLaunch(taskIds: readonly string[]): void {
    for (const taskId of taskIds) {
      const task = this.tasks.get(taskId);
      if (!task || task.state !== 'TASK_STAGING') continue;
      this.tasks.delete(taskId);
      this.healthUnknown.delete(taskId);
      this.onChange({ kind: 'task', id: taskId, record: undefined });
    }
  }

  /** When the next time-driven decision is due (a backoff ending), for the glue's timer; undefined: none. */
  nextWakeup(): number | undefined {
    let next: number | undefined = this.unreconciled.size > 0 ? this.reconcileDeadline : undefined;
    for (const [appId, state] of this.backoff) {
      if (this.wanted.has(appId) && state.notBefore > this.clock.now()) next = Math.min(next ?? Infinity, state.notBefore);
    }
    return next;
  }

  // ---- internals ---------------------------------------------------------------------------------

  private planApp(app: AppRecord): { launch: number; kill: Array<{ task: TaskRecord; reason: KillReason }> } {
    const def = app.definition;
    const all = this.tasksOf(def.id);
    const live = all.filter((t) => !t.killing);
    const current = live.filter((t) => t.version === app.configVersion);
    const old = live.filter((t) => t.version !== app.configVersion);
    const kill: Array<{ task: TaskRecord; reason: KillReason }> = [];
    // Unhealthy or not yet running first, then the newest: the ones whose loss costs least.
    const byExpendability = (a: TaskRecord, b: TaskRecord): number =>
      Number(this.isAvailable(a)) - Number(this.isAvailable(b)) || b.stagedAt - a.stagedAt;

    const surplus = current.length - def.instances;
    if (surplus > 0) for (const task of [...current].sort(byExpendability).slice(0, surplus)) kill.push({ task, reason: 'scale' });
    const currentKept = Math.min(current.length, def.instances);

    const missing = Math.max(0, def.instances - currentKept);
    const maxTotal = Math.floor(def.instances * (1 + def.upgradeStrategy.maximumOverCapacity) + 1e-9);
    // During a deployment, tasks being killed still run until their terminal update: like Marathon, count
    // them (and the ones killed just now) against the over-capacity limit.
    const bounded = old.length > 0 || this.deploymentsOf(def.id).length > 0;
    const launch = bounded ? Math.max(0, Math.min(missing, maxTotal - all.length)) : missing;
    if (old.length === 0) return { launch, kill };

    const minHealthy = Math.ceil(def.instances * def.upgradeStrategy.minimumHealthCapacity - 1e-9);
    // Healthy or of unknown health (after a takeover): an old task is killed only while these stay ≥ minHealthy.
    let available = live.filter((t) => this.isAvailable(t) && !kill.some((k) => k.task === t)).length;
    for (const task of [...old].sort(byExpendability)) {
      if (!this.isAvailable(task)) kill.push({ task, reason: 'upgrade' });
      else if (available - 1 >= minHealthy) {
        kill.push({ task, reason: 'upgrade' });
        available--;
      }
    }
    return { launch, kill };
  }

  /**
   * A task the master knows and we do not, whose id says it is one of our apps' (`<slug>.<uuid>`): a
   * previous leader launched it. It is adopted — counted, of unknown health and version — not killed
   * as an orphan; as its version is not the app's, the app replaces it like any old task (within
   * minimumHealthCapacity and maximumOverCapacity).
   */
  private adopt(status: MesosTaskStatus): TaskRecord | undefined {
    const taskId = status.task_id.value;
    const dot = taskId.lastIndexOf('.');
    if (isTerminal(status.state) || !status.agent_id || dot <= 0) return undefined;
    const slug = taskId.slice(0, dot);
    const app = [...this.apps.values()].find((a) => appSlug(a.definition.id) === slug);
    if (!app) return undefined;
    const now = this.clock.now();
    const task: TaskRecord = {
      taskId,
      appId: app.definition.id,
      version: 'unknown',
      agentId: status.agent_id.value,
      host: '',
      probeHost: '',
      attributes: {},
      ports: [],
      state: status.state,
      stagedAt: now,
      ...(status.state === 'TASK_RUNNING' ? { startedAt: now } : {}),
      health: app.definition.healthChecks.map(() => ({ consecutiveFailures: 0 })),
    };
    this.tasks.set(taskId, task);
    this.healthUnknown.add(taskId);
    this.onChange({ kind: 'task', id: taskId, record: task });
    return task;
  }

  private useOffer(offer: MesosOffer, now: number): MesosTaskInfo[] {
    let remaining: Resources;
    try {
      remaining = fromMesosResources(offer.resources, 'offer.resources');
    } catch {
      return [];
    }
    const place: Placement = { hostname: offer.hostname, attributes: offerAttributes(offer) };
    const probeHost = offer.url?.address.ip ?? offer.hostname;
    const launched: MesosTaskInfo[] = [];
    for (const [appId, count] of this.wanted) {
      const app = this.apps.get(appId);
      const backoff = this.backoff.get(appId);
      if (!app || (backoff && backoff.notBefore > now)) continue;
      const def = app.definition;
      let left = count;
      while (left > 0) {
        const need: Resources = { cpus: def.cpus, mem: def.mem, ...(def.disk > 0 ? { disk: def.disk } : {}) };
        const ports = takePorts(remaining.ports ?? [], def.portDefinitions.length);
        if (portList(ports).length < def.portDefinitions.length) break;
        if (ports.length > 0) need.ports = ports;
        if (!containsResources(remaining, need)) break;
        const placed = this.tasksOf(appId).filter((t) => !t.killing).map((t) => ({ hostname: t.host, attributes: t.attributes }));
        if (!satisfiesAll(def.constraints, place, placed, this.constraintContext)) break;
        const task: TaskRecord = {
          taskId: `${appSlug(appId)}.${this.ids.uuid()}`,
          appId,
          version: app.configVersion,
          agentId: offer.agent_id.value,
          host: offer.hostname,
          probeHost,
          attributes: place.attributes,
          ports: portList(ports),
          state: 'TASK_STAGING',
          stagedAt: now,
          health: def.healthChecks.map(() => ({ consecutiveFailures: 0 })),
        };
        this.tasks.set(task.taskId, task);
        this.onChange({ kind: 'task', id: task.taskId, record: task });
        launched.push(buildTaskInfo(app, { taskId: task.taskId, agentId: task.agentId, host: task.host, ports: task.ports }));
        remaining = subtractResources(remaining, need);
        left--;
      }
      if (left > 0) this.wanted.set(appId, left);
      else this.wanted.delete(appId);
    }
    return launched;
  }

  private rememberValues(offer: MesosOffer, now: number): void {
    const remember = (field: string, value: string): void => {
      let values = this.seenValues.get(field);
      if (!values) this.seenValues.set(field, (values = new Map()));
      values.set(value, now);
    };
    remember('hostname', offer.hostname);
    for (const [name, value] of Object.entries(offerAttributes(offer))) remember(name, value);
  }

  /** Distinct values of a field offered within valueMemoryMs (older ones are forgotten: that agent may be gone). */
  private valuesSeen(field: string): number {
    const values = this.seenValues.get(field === '@hostname' ? 'hostname' : field);
    if (!values) return 0;
    const since = this.clock.now() - this.valueMemoryMs;
    for (const [value, at] of values) if (at < since) values.delete(value);
    return values.size;
  }

  private refuseSeconds(now: number): number {
    if (this.wanted.size === 0) return this.idleRefuseSeconds;
    // Wanted but all backing off: come back when the first backoff ends.
    let soonest = Infinity;
    for (const appId of this.wanted.keys()) {
      const backoff = this.backoff.get(appId);
      soonest = Math.min(soonest, backoff && backoff.notBefore > now ? backoff.notBefore - now : 0);
    }
    return soonest > 0 && Number.isFinite(soonest) ? Math.max(1, Math.ceil(soonest / 1000)) : DEFAULT_REFUSE_SECONDS;
  }

  private resetBackoffIfStable(app: AppRecord, now: number): void {
    if (!this.backoff.has(app.definition.id)) return;
    const stable = this.tasksOf(app.definition.id).some(
      (t) => this.isHealthy(t) && (app.definition.healthChecks.length > 0 || now - (t.startedAt ?? now) >= this.stableAfterMs),
    );
    if (stable) this.backoff.delete(app.definition.id);
  }

  private kill(task: TaskRecord, reason: KillReason): void {
    task.killing = { at: this.clock.now(), reason };
    this.onChange({ kind: 'task', id: task.taskId, record: task });
    this.pendingKills.push({ taskId: task.taskId, agentId: task.agentId });
  }

  private startDeployment(appId: string, action: DeploymentAction, version: string): DeploymentResult {
    for (const old of this.deploymentsOf(appId)) {
      // Superseded (forced): Marathon reports the old one as failed.
      this.deployments.delete(old.id);
      this.onChange({ kind: 'deployment', id: old.id, record: undefined });
      this.emit('deployment_failed', { id: old.id, plan: this.planView(old), reason: 'superseded by a newer deployment' });
    }
    const deployment: Deployment = {
      id: this.ids.uuid(),
      appId,
      action,
      version,
      startedAt: this.clock.now(),
      steps: deploymentSteps(action),
      currentStep: 0,
    };
    this.deployments.set(deployment.id, deployment);
    this.onChange({ kind: 'deployment', id: deployment.id, record: deployment });
    this.emit('deployment_info', { plan: this.planView(deployment), currentStep: this.stepView(deployment, 0) });
    return { deploymentId: deployment.id, version };
  }

  /** Moves every deployment past the steps that are done (several at once if they are); removes finished ones. */
  private finishDeployments(): void {
    for (const deployment of [...this.deployments.values()]) {
      let advanced = false;
      while (deployment.currentStep < deployment.steps.length && this.stepDone(deployment, deployment.steps[deployment.currentStep] ?? [])) {
        this.emit('deployment_step_success', { plan: this.planView(deployment), currentStep: this.stepView(deployment, deployment.currentStep) });
        deployment.currentStep++;
        advanced = true;
        if (deployment.currentStep < deployment.steps.length) {
          this.emit('deployment_info', { plan: this.planView(deployment), currentStep: this.stepView(deployment, deployment.currentStep) });
        }
      }
      if (deployment.currentStep >= deployment.steps.length) {
        this.deployments.delete(deployment.id);
        this.onChange({ kind: 'deployment', id: deployment.id, record: undefined });
        this.emit('deployment_success', { id: deployment.id, plan: this.planView(deployment) });
      } else if (advanced) {
        this.onChange({ kind: 'deployment', id: deployment.id, record: deployment });
      }
    }
  }

  /** Whether every action of a step is done (the keeper works toward the target all along; steps only report). */
  private stepDone(deployment: Deployment, actions: readonly DeploymentAction[]): boolean {
    const tasks = this.tasksOf(deployment.appId);
    const app = this.apps.get(deployment.appId);
    return actions.every((action) => {
      switch (action) {
        case 'StopApplication':
          return tasks.length === 0;
        case 'StartApplication':
          return !app || app.definition.instances === 0 || tasks.some((t) => t.version === app.configVersion && t.state === 'TASK_RUNNING');
        case 'RestartApplication':
          return !app || tasks.every((t) => t.version === app.configVersion);
        case 'ScaleApplication':
          return (
            !app ||
            (tasks.length === app.definition.instances && tasks.every((t) => t.version === app.configVersion && !t.killing && this.isHealthy(t)))
          );
        default:
          return assertNever(action, 'deployment action');
      }
    });
  }

  /** A deployment as Marathon's DeploymentPlan (GET /v2/deployments, the deployment_* events). */
  planView(deployment: Deployment): { id: string; version: string; steps: Array<{ actions: Array<{ action: string; app: string }> }> } {
    return { id: deployment.id, version: deployment.version, steps: deployment.steps.map((_, i) => this.stepView(deployment, i)) };
  }

  stepView(deployment: Deployment, index: number): { actions: Array<{ action: string; app: string }> } {
    return { actions: (deployment.steps[index] ?? []).map((action) => ({ action, app: deployment.appId })) };
  }

  private checkLock(appId: string, force: boolean): void {
    const running = this.deploymentsOf(appId);
    if (running.length > 0 && !force) throw new AppLockedError(appId, running.map((d) => d.id));
  }

  private requireApp(id: string): AppRecord {
    const app = this.apps.get(id);
    if (!app) throw new NotFoundError('app', id);
    return app;
  }

  private setApp(app: AppRecord): void {
    this.apps.set(app.definition.id, app);
    this.onChange({ kind: 'app', id: app.definition.id, record: app });
  }

  /** Now, but always after `previous`: tasks tell versions apart by it, even two changes in one ms. */
  private nextVersion(previous: string): string {
    return new Date(Math.max(this.clock.now(), Date.parse(previous) + 1)).toISOString();
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private emit(eventType: string, fields: Record<string, unknown>): void {
    this.emitEvent({ eventType, timestamp: this.isoNow(), ...fields });
  }
}

/** The offer's agent attributes (`--attributes rack:r1;gpus:2`, TEXT or SCALAR) as strings, for constraints. */
function offerAttributes(offer: MesosOffer): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const a of offer.attributes ?? []) attributes[a.name] = a.type === 'TEXT' ? a.text.value : String(a.scalar.value);
  return attributes;
}

function dedupe(kills: KillOrder[]): KillOrder[] {
  const seen = new Set<string>();
  return kills.filter((k) => (seen.has(k.taskId) ? false : (seen.add(k.taskId), true)));
}
