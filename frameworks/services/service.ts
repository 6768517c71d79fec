// The services framework process: glue between the keeper (pure), the scheduler client (master),
// the framework runtime (leader election + state store) and the HTTP API. While leading it loads
// the stored apps and tasks, subscribes with the stored framework id, reconciles, and carries every
// keeper decision out; when deposed it stops its client without TEARDOWN (tasks keep running).
import type { Server } from 'node:http';
import {
  closeHttpServer,
  errorMessage,
  isTerminal,
  listenHttp,
  systemClock,
  type Clock,
  type Logger,
  type MesosOffer,
  type MesosTaskInfo,
  type MesosTaskStatus,
} from '../../common/index.js';
import { FrameworkInstance, type StateStore } from '../runtime/index.js';
import { SchedulerClient, type SchedulerEvents } from '../scheduler-client/index.js';
import { createApi } from './api.js';
import { EventBus } from './event-bus.js';
import { HealthMonitor, type Probe } from './health-monitor.js';
import { Keeper, type StoreChange } from './keeper.js';
import type { AppRecord, Deployment, TaskRecord } from './model.js';
import { probe as realProbe } from './probes.js';

const VERSION = '0.1.0';
const FRAMEWORK_ID_KEY = 'framework-id';
const ONE_WEEK_SECONDS = 7 * 24 * 3600;

/** The scheduler client calls the framework uses (SchedulerClient has them; tests may pass another). */
export interface SchedulerPort {
  on<K extends keyof SchedulerEvents>(event: K, handler: SchedulerEvents[K]): void;
  start(): void;
  stop(): Promise<void>;
  readonly frameworkId: string | undefined;
  readonly connected: boolean;
  accept(offerIds: string[], tasks: MesosTaskInfo[], refuseSeconds?: number): Promise<void>;
  decline(offerIds: string[], refuseSeconds?: number): Promise<void>;
  kill(taskId: string, agentId?: string): Promise<void>;
  reconcile(tasks: Array<{ taskId: string; agentId?: string }>): Promise<void>;
  revive(): Promise<void>;
  suppress(): Promise<void>;
}

export interface ServicesFrameworkOptions {
  /** 'host:port' | 'http://host:port' | 'zk://…/tessera' */
  master: string;
  /** 'zk://h:2181/tessera-services': HA through ZooKeeper; without it, one instance with state in workDir. */
  zk?: string;
  workDir?: string;
  /** Address the HTTP API listens on. */
  host: string;
  port: number;
  /** The address other instances redirect to (default: host, or 127.0.0.1 when host is 0.0.0.0). */
  advertiseHost?: string;
  logger: Logger;
  frameworkName?: string;
  role?: string;
  failoverTimeoutSeconds?: number;
  /** How often the keeper re-plans without an event (backoff ends, kill retries); default 1 s. */
  tickIntervalMs?: number;
  zkSessionTimeoutMs?: number;
  clock?: Clock;
  probe?: Probe;
  schedulerFactory?: (options: { frameworkId: string | undefined; logger: Logger }) => SchedulerPort;
}

interface Leadership {
  keeper: Keeper;
  client: SchedulerPort;
  health: HealthMonitor;
  ticker: ReturnType<typeof setInterval>;
  /** The last revive/suppress sent (undefined: none since subscribing). */
  offersWanted: boolean | undefined;
  stopped: boolean;
}

export class ServicesFramework {
  private leadership: Leadership | undefined;
  private writes: Promise<void> = Promise.resolve();
  /** The last queued write of each key, resolving to whether it was stored. */
  private readonly lastWrite = new Map<string, Promise<boolean>>();
  private transition: Promise<void> = Promise.resolve();
  private unlisten: (() => void) | undefined;

  private constructor(
    private readonly options: ServicesFrameworkOptions,
    private readonly instance: FrameworkInstance,
    private readonly server: Server,
    readonly port: number,
    readonly bus: EventBus,
  ) {}

  static async create(options: ServicesFrameworkOptions): Promise<ServicesFramework> {
    const { createServer } = await import('node:http');
    // The API must listen before the instance contends: its address is what followers redirect to.
    let framework: ServicesFramework | undefined;
    const bus = new EventBus();
    const api = createApi(
      {
        keeper: () => framework?.leadership?.keeper,
        leaderAddress: () => framework?.instance.leaderAddress(),
        bus,
        afterChange: () => framework?.afterChange() ?? Promise.resolve(),
        info: () => framework?.info() ?? {},
        metrics: () => framework?.metrics() ?? '',
      },
      options.logger,
    );
    const server = createServer(api.callback());
    const port = await listenHttp(server, options.port, options.host);
    try {
      const advertise = options.advertiseHost ?? (options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host);
      const instance = await FrameworkInstance.create({
        ...(options.zk === undefined ? {} : { zk: options.zk }),
        ...(options.workDir === undefined ? {} : { workDir: options.workDir }),
        instanceId: `${advertise}:${port}`,
        address: { host: advertise, port },
        logger: options.logger,
        ...(options.zkSessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.zkSessionTimeoutMs }),
      });
      framework = new ServicesFramework(options, instance, server, port, bus);
      framework.unlisten = instance.onLeadership((leading) => framework?.onLeadership(leading));
      if (instance.leading) framework.onLeadership(true);
      return framework;
    } catch (err) {
      await closeHttpServer(server);
      throw err;
    }
  }

  get leading(): boolean {
    return this.leadership !== undefined;
  }

  async stop(): Promise<void> {
    this.unlisten?.();
    await this.transition;
    await this.stepDown();
    await this.writes;
    await closeHttpServer(this.server);
    await this.instance.close();
  }

  // ---- leadership --------------------------------------------------------------------------------

  private onLeadership(leading: boolean): void {
    this.transition = this.transition
      .then(() => (leading ? this.stepUp() : this.stepDown()))
      .catch((err: unknown) => this.options.logger.error({ err }, 'leadership change failed'));
  }

  private async stepUp(): Promise<void> {
    if (this.leadership) return;
    const { logger } = this.options;
    const store = this.instance.store;
    const clock = this.options.clock ?? systemClock;
    const [apps, tasks, deployments] = await Promise.all([
      loadAll<AppRecord>(store, 'apps/'),
      loadAll<TaskRecord>(store, 'tasks/'),
      loadAll<Deployment>(store, 'deployments/'),
    ]);
    const frameworkId = await store.get<string>(FRAMEWORK_ID_KEY);
    const keeper = new Keeper({ clock, emit: (e) => this.bus.publish(e), onChange: (c) => this.persist(store, c) });
    keeper.load({ apps, tasks, deployments });
    const client = this.options.schedulerFactory
      ? this.options.schedulerFactory({ frameworkId, logger })
      : new SchedulerClient({
          master: this.options.master,
          frameworkInfo: {
            name: this.options.frameworkName ?? 'tessera-services',
            failover_timeout: this.options.failoverTimeoutSeconds ?? ONE_WEEK_SECONDS,
            ...(this.options.role === undefined ? {} : { role: this.options.role }),
            webui_url: `http://${this.instance.leaderAddress() ?? `127.0.0.1:${this.port}`}`,
          },
          ...(frameworkId === undefined ? {} : { frameworkId }),
          logger: logger.child({ component: 'scheduler-client' }),
        });
    const health = new HealthMonitor({
      clock,
      probe: this.options.probe ?? realProbe,
      report: (taskId, index, result) => {
        keeper.healthResult(taskId, index, result.ok, result.cause);
        this.act();
      },
    });
    const leadership: Leadership = {
      keeper,
      client,
      health,
      ticker: setInterval(() => this.act(), this.options.tickIntervalMs ?? 1000),
      offersWanted: undefined,
      stopped: false,
    };
    leadership.ticker.unref();
    this.leadership = leadership;
    client.on('subscribed', (id) => void this.onSubscribed(leadership, id));
    client.on('offers', (offers) => this.onOffers(leadership, offers));
    client.on('update', (status) => this.onUpdate(leadership, status));
    client.on('error', (message) => logger.error({ message }, 'the master reported an error'));
    client.on('disconnected', (reason) => {
      leadership.offersWanted = undefined;
      logger.warn({ reason }, 'disconnected from the master; reconnecting');
    });
    client.start();
    logger.info({ apps: apps.length, tasks: tasks.length, frameworkId }, 'leading: state loaded, subscribing');
  }

  private async stepDown(): Promise<void> {
    const leadership = this.leadership;
    if (!leadership) return;
    this.leadership = undefined;
    leadership.stopped = true;
    clearInterval(leadership.ticker);
    leadership.health.stop();
    await leadership.client.stop(); // no TEARDOWN: the next leader takes the tasks over
    this.options.logger.info('no longer leading');
  }

  // ---- master events -----------------------------------------------------------------------------

  private async onSubscribed(leadership: Leadership, frameworkId: string): Promise<void> {
    leadership.offersWanted = undefined;
    // No launch until the master has told us what of our stored tasks still runs (bounded wait).
    leadership.keeper.beginReconciliation();
    try {
      await this.instance.store.put(FRAMEWORK_ID_KEY, frameworkId);
      const known = leadership.keeper.allTasks().map((t) => ({ taskId: t.taskId, agentId: t.agentId }));
      // Explicit first (what we believe exists), then implicit (what the master knows that we do not).
      if (known.length > 0) await leadership.client.reconcile(known);
      await leadership.client.reconcile([]);
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err) }, 'reconciliation after subscribing failed');
    }
    this.act();
  }

  private onOffers(leadership: Leadership, offers: MesosOffer[]): void {
    if (leadership.stopped) return;
    const decision = leadership.keeper.offers(offers);
    for (const { offerId, tasks } of decision.accept) void this.launch(leadership, offerId, tasks);
    // Decline in groups of equal refuse_seconds.
    const groups = new Map<number, string[]>();
    for (const { offerId, refuseSeconds } of decision.decline) groups.set(refuseSeconds, [...(groups.get(refuseSeconds) ?? []), offerId]);
    for (const [refuseSeconds, ids] of groups) {
      leadership.client.decline(ids, refuseSeconds).catch((err: unknown) => this.options.logger.warn({ err: errorMessage(err) }, 'decline failed'));
    }
    this.act();
  }

  /**
   * Launches only tasks already stored: a leader taking over then knows (and reconciles) every task the
   * master may run, instead of launching more. A task that could not be stored, or whose ACCEPT failed,
   * is forgotten and wanted again.
   */
  private async launch(leadership: Leadership, offerId: string, tasks: MesosTaskInfo[]): Promise<void> {
    const { client, keeper } = leadership;
    const ids = tasks.map((t) => t.task_id.value);
    const stored = await Promise.all(ids.map((id) => this.lastWrite.get(taskKey(id)) ?? Promise.resolve(true)));
    if (leadership.stopped) return; // deposed meanwhile: the next leader decides
    if (!stored.every(Boolean)) {
      this.options.logger.warn({ offerId, tasks: ids }, 'could not store the tasks; not launching them');
      keeper.abandonLaunch(ids);
      client.decline([offerId], 1).catch((err: unknown) => this.options.logger.warn({ err: errorMessage(err) }, 'decline failed'));
      this.act();
      return;
    }
    try {
      await client.accept([offerId], tasks);
    } catch (err) {
      this.options.logger.warn({ err: errorMessage(err), offerId }, 'accept failed');
      if (!leadership.stopped) {
        keeper.abandonLaunch(ids);
        this.act();
      }
    }
  }

  private onUpdate(leadership: Leadership, status: MesosTaskStatus): void {
    if (leadership.stopped) return;
    this.options.logger.debug({ task: status.task_id.value, state: status.state, reason: status.reason }, 'status update');
    leadership.keeper.update(status);
    this.act();
  }

  /** Plans and carries out: kills, revive/suppress, which tasks to health-check. */
  private act(): void {
    const leadership = this.leadership;
    if (!leadership || leadership.stopped) return;
    const { kills, wantsOffers } = leadership.keeper.tick();
    const { client, keeper } = leadership;
    for (const kill of kills) {
      client.kill(kill.taskId, kill.agentId).catch((err: unknown) => this.options.logger.warn({ err: errorMessage(err), task: kill.taskId }, 'kill failed'));
    }
    if (client.connected && client.frameworkId !== undefined && leadership.offersWanted !== wantsOffers) {
      leadership.offersWanted = wantsOffers;
      (wantsOffers ? client.revive() : client.suppress()).catch((err: unknown) => {
        leadership.offersWanted = undefined;
        this.options.logger.warn({ err: errorMessage(err) }, wantsOffers ? 'revive failed' : 'suppress failed');
      });
    }
    leadership.health.sync(
      keeper
        .allTasks()
        // An adopted task (probeHost '') has no known address to probe: it stays of unknown health until replaced.
        .filter((t) => t.state === 'TASK_RUNNING' && !t.killing && !isTerminal(t.state) && t.probeHost !== '')
        .flatMap((t) => {
          const checks = keeper.getApp(t.appId)?.definition.healthChecks ?? [];
          return checks.length === 0 ? [] : [{ taskId: t.taskId, host: t.probeHost, ports: t.ports, checks }];
        }),
    );
  }

  private async afterChange(): Promise<void> {
    this.act();
    await this.writes;
  }

  // ---- persistence -------------------------------------------------------------------------------

  /** Writes in the order the keeper changed things; a failed write is logged (the next change of the same key rewrites it). */
  private persist(store: StateStore, change: StoreChange): void {
    const key = `${change.kind}s/${encodeURIComponent(change.id)}`;
    const record = change.record === undefined ? undefined : JSON.parse(JSON.stringify(change.record)) as unknown;
    const write = this.writes.then(async () => {
      try {
        if (record === undefined) await store.delete(key);
        else await store.put(key, record);
        return true;
      } catch (err) {
        this.options.logger.error({ err: errorMessage(err), key }, 'could not store a change');
        return false;
      }
    });
    this.lastWrite.set(key, write);
    void write.then(() => {
      if (this.lastWrite.get(key) === write) this.lastWrite.delete(key);
    });
    this.writes = write.then(() => undefined);
  }

  // ---- reads for the API -------------------------------------------------------------------------

  private info(): Record<string, unknown> {
    const leadership = this.leadership;
    return {
      name: 'tessera-services',
      version: VERSION,
      elected: leadership !== undefined,
      leader: this.instance.leaderAddress() ?? null,
      frameworkId: leadership?.client.frameworkId ?? null,
      marathon_config: { master: this.options.master, framework_name: this.options.frameworkName ?? 'tessera-services' },
      zookeeper_config: { zk: this.options.zk ?? null },
      http_config: { http_port: this.port },
    };
  }

  private metrics(): string {
    const keeper = this.leadership?.keeper;
    const tasks = keeper?.allTasks() ?? [];
    const lines = [
      '# TYPE services_leader gauge',
      `services_leader ${keeper ? 1 : 0}`,
      '# TYPE services_apps gauge',
      `services_apps ${keeper?.listApps().length ?? 0}`,
      '# TYPE services_tasks_running gauge',
      `services_tasks_running ${tasks.filter((t) => t.state === 'TASK_RUNNING').length}`,
      '# TYPE services_deployments gauge',
      `services_deployments ${keeper?.listDeployments().length ?? 0}`,
      '# TYPE services_event_subscribers gauge',
      `services_event_subscribers ${this.bus.size}`,
    ];
    return `${lines.join('\n')}\n`;
  }
}

function taskKey(taskId: string): string {
  return `tasks/${encodeURIComponent(taskId)}`;
}

async function loadAll<T>(store: StateStore, prefix: string): Promise<T[]> {
  const keys = await store.list(prefix);
  const values = await Promise.all(keys.map((key) => store.get<T>(key.startsWith(prefix) ? key : `${prefix}${key}`)));
  return values.filter((v): v is Awaited<T> => v !== undefined) as T[];
}
