// The jobs framework process: an HTTP API that always answers, a FrameworkInstance that elects a leader
// among instances (ZooKeeper) and holds the state, and — while leading — the engine and a scheduler
// client re-subscribing with the stored framework id. Deposed: the client stops without TEARDOWN.
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { closeHttpServer, errorMessage, listenHttp, randomIds, systemClock, type Clock, type Logger } from '../../common/index.js';
import { FrameworkInstance } from '../runtime/index.js';
import { SchedulerClient } from '../scheduler-client/index.js';
import { createJobsApp } from './http-api.js';
import { JobsEngine } from './jobs-engine.js';
import { JobsScheduler } from './jobs-scheduler.js';
import type { RetryPolicyOptions } from './retry-policy.js';
import { WebhookNotifier, type WebhookNotifierOptions } from './webhooks.js';

export interface JobsFrameworkOptions {
  /** The master: 'host:port', 'http://host:port' or 'zk://…/tessera'. */
  master: string;
  /** 'zk://h:2181/tessera-jobs'; without it one instance keeps its state in `<workDir>/state.json`. */
  zk?: string;
  workDir?: string;
  host: string;
  port: number;
  /** The address others reach this instance's API at (default: host, or 127.0.0.1 for 0.0.0.0). */
  advertiseHost?: string;
  logger: Logger;
  clock?: Clock;
  frameworkName?: string;
  role?: string;
  /** Seconds the master keeps our tasks while no instance is subscribed (default one week). */
  failoverTimeoutSeconds?: number;
  retry?: RetryPolicyOptions;
  /** Webhook delivery: attempts per notification (default 5), backoff and per-attempt timeout. */
  webhooks?: Pick<WebhookNotifierOptions, 'attempts' | 'baseDelayMs' | 'maxDelayMs' | 'timeoutMs'>;
  zkSessionTimeoutMs?: number;
}

const FRAMEWORK_ID_KEY = 'framework-id';
const ONE_WEEK_S = 7 * 24 * 3600;

interface Leadership {
  engine: JobsEngine;
  client: SchedulerClient;
  scheduler: JobsScheduler;
  notifier: WebhookNotifier;
}

export class JobsFramework {
  private instance: FrameworkInstance | undefined;
  private leadership: Leadership | undefined;
  /** Serializes becoming leader / stepping down. */
  private transition: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;

  private constructor(
    private readonly options: JobsFrameworkOptions,
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async create(options: JobsFrameworkOptions): Promise<JobsFramework> {
    const server = createServer();
    const port = await listenHttp(server, options.port, options.host);
    const framework = new JobsFramework(options, server, port);
    server.on('request', createJobsApp(framework.apiHost(), options.logger).callback());
    try {
      const advertise = options.advertiseHost ?? (options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host);
      framework.instance = await FrameworkInstance.create({
        ...(options.zk === undefined ? {} : { zk: options.zk }),
        ...(options.workDir === undefined ? {} : { workDir: options.workDir }),
        instanceId: `jobs-${hostname()}-${process.pid}-${randomIds.uuid().slice(0, 8)}`,
        address: { host: advertise, port },
        logger: options.logger,
        ...(options.zkSessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.zkSessionTimeoutMs }),
      });
      framework.unsubscribe = framework.instance.onLeadership((leading) => framework.onLeadership(leading));
      if (framework.instance.leading) framework.onLeadership(true);
    } catch (err) {
      await framework.stop();
      throw err;
    }
    return framework;
  }

  get url(): string {
    return `http://${this.options.host === '0.0.0.0' ? '127.0.0.1' : this.options.host}:${this.port}`;
  }

  get leading(): boolean {
    return this.instance?.leading ?? false;
  }

  /** Stops scheduling (no TEARDOWN: tasks keep running for the next leader), closes the API. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.enqueue(() => this.stepDown());
    await closeHttpServer(this.server);
    await this.instance?.close();
  }

  private apiHost() {
    return {
      engine: () => this.leadership?.engine,
      leading: () => this.leading,
      leaderAddress: () => this.instance?.leaderAddress(),
      killTask: async (taskId: string, agentId?: string) => {
        await this.leadership?.client.kill(taskId, agentId);
      },
      notificationFailure: (name: string) => this.leadership?.notifier.lastFailure(name),
      jobRemoved: async (name: string) => {
        await this.leadership?.notifier.forgetJob(name);
      },
    };
  }

  private onLeadership(leading: boolean): void {
    void this.enqueue(() => (leading ? this.becomeLeader() : this.stepDown()));
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.transition = this.transition.then(step).catch((err: unknown) => {
      this.options.logger.error({ err: errorMessage(err) }, 'leadership transition failed');
    });
    return this.transition;
  }

  private async becomeLeader(): Promise<void> {
    const instance = this.instance;
    if (!instance?.leading || this.leadership) return;
    const { logger } = this.options;
    const clock = this.options.clock ?? systemClock;
    // Only the leader sends webhooks; the outbox in the store carries what is owed from one leader to the next.
    const notifier = new WebhookNotifier({ ...this.options.webhooks, store: instance.store, logger, clock, leading: () => instance.leading });
    const engine = await JobsEngine.load({
      store: instance.store,
      logger,
      clock,
      ...(this.options.retry ? { retry: this.options.retry } : {}),
      beforeFinish: (run) => notifier.persist(run),
    });
    const frameworkId = await instance.store.get<string>(FRAMEWORK_ID_KEY);
    const client = new SchedulerClient({
      master: this.options.master,
      frameworkInfo: {
        name: this.options.frameworkName ?? 'tessera-jobs',
        failover_timeout: this.options.failoverTimeoutSeconds ?? ONE_WEEK_S,
        ...(this.options.role === undefined ? {} : { role: this.options.role }),
        webui_url: this.url,
      },
      ...(frameworkId === undefined ? {} : { frameworkId }),
      logger,
    });
    client.on('subscribed', (id) => {
      if (id !== frameworkId) void instance.store.put(FRAMEWORK_ID_KEY, id).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'storing the framework id failed'));
      logger.info({ frameworkId: id }, 'subscribed');
    });
    client.on('error', (message) => logger.error({ message }, 'master reported an error'));
    engine.onFinished((run) => notifier.notify(run));
    const scheduler = new JobsScheduler({ engine, client, logger, clock });
    try {
      await notifier.resume();
    } catch (err) {
      await notifier.stop();
      throw err;
    }
    this.leadership = { engine, client, scheduler, notifier };
    scheduler.start();
    client.start();
    logger.info({ jobs: engine.list().length, webhooksOwed: notifier.pending().length }, 'leading: state loaded, scheduling');
  }

  private async stepDown(): Promise<void> {
    const l = this.leadership;
    if (!l) return;
    this.leadership = undefined;
    l.scheduler.stop();
    await l.client.stop();
    await l.notifier.stop();
    this.options.logger.info('no longer leading: scheduling stopped');
  }
}
