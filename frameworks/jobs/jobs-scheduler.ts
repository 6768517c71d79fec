// Connects the engine to the master: launches launchable runs on offers (the task id persisted before
// the ACCEPT), declines the rest, suppresses offers while nothing waits and revives when something does,
// feeds status updates back, and reconciles its tasks on every (re)subscription.
import {
  errorMessage,
  fromMesosResources,
  isTerminal,
  randomIds,
  systemClock,
  taskIdFor,
  toMesosResources,
  type Clock,
  type IdSource,
  type Logger,
  type MesosOffer,
  type MesosTaskInfo,
  type MesosTaskStatus,
  type Resources,
} from '../../common/index.js';
import type { JobDefinition } from './job-definition.js';
import type { ActiveRun } from './job-status.js';
import type { JobsEngine } from './jobs-engine.js';

/** The part of the runtime's SchedulerClient this uses. */
export interface SchedulerPort {
  on(event: 'subscribed', handler: (frameworkId: string) => void): void;
  on(event: 'offers', handler: (offers: MesosOffer[]) => void): void;
  on(event: 'update', handler: (status: MesosTaskStatus) => void): void;
  accept(offerIds: string[], tasks: MesosTaskInfo[], refuseSeconds?: number): Promise<void>;
  decline(offerIds: string[], refuseSeconds?: number): Promise<void>;
  kill(taskId: string, agentId?: string): Promise<void>;
  reconcile(tasks: Array<{ taskId: string; agentId?: string }>): Promise<void>;
  revive(): Promise<void>;
  suppress(): Promise<void>;
  readonly connected: boolean;
}

export interface JobsSchedulerOptions {
  engine: JobsEngine;
  client: SchedulerPort;
  logger: Logger;
  clock?: Clock;
  ids?: IdSource;
  /** How often due times are checked (default 250 ms). */
  tickMs?: number;
}

/** Seconds an idle offer is refused for; a revive clears it when a run becomes due. */
const IDLE_REFUSE_SECONDS = 30;

export class JobsScheduler {
  private timer: ReturnType<Clock['setTimeout']> | undefined;
  private stopped = false;
  private suppressed = false;
  private readonly clock: Clock;

  constructor(private readonly options: JobsSchedulerOptions) {
    this.clock = options.clock ?? systemClock;
    const { client, engine } = options;
    client.on('subscribed', () => void this.onSubscribed());
    client.on('offers', (offers) => void this.onOffers(offers).catch((err: unknown) => this.warn(err, 'handling offers failed')));
    client.on('update', (status) => void this.onUpdate(status).catch((err: unknown) => this.warn(err, 'handling an update failed')));
    engine.onChange(() => void this.wantOffers());
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      void this.options.engine
        .tick()
        .then(() => this.adjustSuppression())
        .catch((err: unknown) => this.warn(err, 'tick failed'))
        .finally(() => this.schedule());
    }, this.options.tickMs ?? 250);
  }

  private async onSubscribed(): Promise<void> {
    this.suppressed = false;
    const { engine, client } = this.options;
    try {
      // Explicit for the tasks we track (unknown to the master → TASK_LOST → retried), implicit for the rest.
      await client.reconcile(engine.activeTasks());
      await client.reconcile([]);
    } catch (err) {
      this.warn(err, 'reconciliation failed');
    }
  }

  private async onUpdate(status: MesosTaskStatus): Promise<void> {
    const taskId = status.task_id.value;
    const ours = await this.options.engine.onTaskStatus({
      taskId,
      state: status.state,
      ...(status.reason === undefined ? {} : { reason: status.reason }),
      ...(status.message === undefined ? {} : { message: status.message }),
      ...(status.agent_id === undefined ? {} : { agentId: status.agent_id.value }),
    });
    if (!ours && !isTerminal(status.state)) {
      // A task of a deleted job, or one a previous leader launched but never recorded: stop it.
      this.options.logger.info({ taskId }, 'killing a task no job owns');
      await this.options.client.kill(taskId, status.agent_id?.value).catch((err: unknown) => this.warn(err, 'kill failed'));
    }
  }

  private async onOffers(offers: MesosOffer[]): Promise<void> {
    const { engine, client } = this.options;
    const runs = engine.launchable();
    const left = new Map<string, Resources>(offers.map((o) => [o.id.value, fromMesosResources(o.resources, 'offer.resources')]));
    const plan = new Map<string, Array<{ job: JobDefinition; run: ActiveRun }>>();
    for (const item of runs) {
      const offer = offers.find((o) => fits(left.get(o.id.value), item.job));
      if (!offer) continue;
      const free = left.get(offer.id.value) as Resources;
      left.set(offer.id.value, { ...free, cpus: free.cpus - item.job.cpus, mem: free.mem - item.job.mem, disk: (free.disk ?? 0) - (item.job.disk ?? 0) });
      plan.set(offer.id.value, [...(plan.get(offer.id.value) ?? []), item]);
    }
    const unused = offers.filter((o) => !plan.has(o.id.value)).map((o) => o.id.value);
    if (unused.length > 0) {
      const waiting = runs.length > [...plan.values()].reduce((n, l) => n + l.length, 0);
      await client.decline(unused, waiting ? 1 : IDLE_REFUSE_SECONDS).catch((err: unknown) => this.warn(err, 'decline failed'));
    }
    for (const offer of offers) {
      const items = plan.get(offer.id.value);
      if (!items) continue;
      const tasks: MesosTaskInfo[] = [];
      for (const { job, run } of items) {
        const taskId = taskIdFor(job.name, this.options.ids ?? randomIds);
        // Persisted first: a leader taking over sees the task id and reconciles it instead of launching again.
        if (await engine.markLaunching(job.name, run.runId, taskId, offer.agent_id.value)) tasks.push(taskInfo(job, run, taskId, offer));
      }
      try {
        if (tasks.length === 0) await client.decline([offer.id.value], 1);
        else {
          await client.accept([offer.id.value], tasks, 1);
          this.options.logger.info({ tasks: tasks.map((t) => t.task_id.value), agent: offer.agent_id.value }, 'launched job runs');
        }
      } catch (err) {
        this.warn(err, 'accept failed; the runs wait for another offer');
        for (const task of tasks) await engine.revertLaunch(task.task_id.value);
      }
    }
    await this.adjustSuppression();
  }

  private async wantOffers(): Promise<void> {
    if (!this.suppressed || this.options.engine.launchable().length === 0) return;
    this.suppressed = false;
    await this.options.client.revive().catch((err: unknown) => {
      this.suppressed = true;
      this.warn(err, 'revive failed');
    });
  }

  /** Suppress while nothing waits for an offer; revive as soon as something does. */
  private async adjustSuppression(): Promise<void> {
    if (!this.options.client.connected) return;
    const waiting = this.options.engine.launchable().length > 0;
    if (waiting) return this.wantOffers();
    if (this.suppressed) return;
    this.suppressed = true;
    await this.options.client.suppress().catch((err: unknown) => {
      this.suppressed = false;
      this.warn(err, 'suppress failed');
    });
  }

  private warn(err: unknown, what: string): void {
    this.options.logger.warn({ err: errorMessage(err) }, what);
  }
}

function fits(free: Resources | undefined, job: JobDefinition): boolean {
  if (!free) return false;
  const eps = 1e-9;
  return free.cpus + eps >= job.cpus && free.mem + eps >= job.mem && (job.disk === undefined || (free.disk ?? 0) + eps >= job.disk);
}

/** The Mesos TaskInfo for one attempt of a run. */
export function taskInfo(job: JobDefinition, run: ActiveRun, taskId: string, offer: MesosOffer): MesosTaskInfo {
  const role = offer.allocation_info?.role;
  const variables = [
    ...(job.environmentVariables ?? []),
    { name: 'TESSERA_JOB_NAME', value: job.name },
    { name: 'TESSERA_JOB_RUN', value: run.runId },
    { name: 'TESSERA_JOB_ATTEMPT', value: String(run.attempt) },
  ];
  const task: MesosTaskInfo = {
    name: `job:${job.name}`,
    task_id: { value: taskId },
    agent_id: offer.agent_id,
    resources: toMesosResources(
      { cpus: job.cpus, mem: job.mem, ...(job.disk === undefined ? {} : { disk: job.disk }) },
      role === undefined ? {} : { allocationRole: role },
    ),
    command: {
      shell: job.shell,
      ...(job.command.trim() === '' ? {} : { value: job.command }),
      ...(job.arguments === undefined ? {} : { arguments: job.arguments }),
      environment: { variables },
      ...(job.runAsUser === undefined ? {} : { user: job.runAsUser }),
    },
    labels: { labels: [{ key: 'tessera.jobs/run', value: run.runId }] },
  };
  if (job.container?.type === 'DOCKER') {
    task.container = {
      type: 'DOCKER',
      docker: {
        image: job.container.image,
        ...(job.container.network === undefined ? {} : { network: job.container.network }),
        ...(job.container.forcePullImage === undefined ? {} : { force_pull_image: job.container.forcePullImage }),
      },
    };
  }
  return task;
}
