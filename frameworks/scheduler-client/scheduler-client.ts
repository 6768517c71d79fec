// A Mesos v1 HTTP scheduler client: finds the leading master (zk:// or by following 307s), holds one
// SUBSCRIBE stream, re-subscribes with the same framework id whenever it breaks (stream end, master
// failover, missed heartbeats), and sends calls with the stream's Mesos-Stream-Id. Written against
// Mesos's documented API only, like any third-party framework: it imports nothing of master/.
import http from 'node:http';
import {
  assertNever,
  backoffDelay,
  errorMessage,
  leaderAddress,
  LeaderDetector,
  type FrameworkCall,
  type Logger,
  type MesosEvent,
  type MesosFrameworkInfo,
  type MesosOffer,
  type MesosTaskInfo,
  type MesosTaskStatus,
  type SubscribeCall,
} from '../../common/index.js';
import { SchedulerClientError } from './errors.js';
import { postJson, answerMessage } from './http-post.js';
import { parseMasterAddress, redirectBase, type MasterAddress } from './master-address.js';
import { openSubscription, type EventStream } from './subscription.js';

export interface SchedulerClientOptions {
  /** 'host:port' | 'http://host:port' | 'zk://…/tessera' */
  master: string;
  frameworkInfo: {
    name: string;
    /** Default 'root'. */
    user?: string;
    role?: string;
    /** Seconds the master keeps the framework's tasks while it is disconnected. */
    failover_timeout?: number;
    /** Mesos capability names, e.g. 'TASK_KILLING_STATE'. */
    capabilities?: string[];
    principal?: string;
    hostname?: string;
    webui_url?: string;
  };
  /** Re-subscribe with this id (persist it from 'subscribed'). */
  frameworkId?: string;
  credentials?: { principal: string; secret: string };
  /** Default true: every UPDATE with a uuid is acknowledged after the handlers ran (and their promises resolved). */
  autoAcknowledge?: boolean;
  logger: Logger;
}

export interface SchedulerEvents {
  /** On every (re)subscription. */
  subscribed: (frameworkId: string) => void;
  offers: (offers: MesosOffer[]) => void;
  rescind: (offerId: string) => void;
  update: (status: MesosTaskStatus) => void;
  /** The master's ERROR event (e.g. framework removed), or a SUBSCRIBE the master refused (401/403/400). */
  error: (message: string) => void;
  /** The stream ended; the client reconnects by itself. */
  disconnected: (reason: string) => void;
}

/** idle: start() not called; connecting: finding the master / waiting to retry; subscribing: stream open, no SUBSCRIBED yet. */
export type SchedulerClientState = 'idle' | 'connecting' | 'subscribing' | 'subscribed' | 'stopped';

const SCHEDULER_PATH = '/api/v1/scheduler';
const RECONNECT_MIN_MS = 200;
const RECONNECT_MAX_MS = 10_000;
/** Mesos's default when SUBSCRIBED does not say. */
const DEFAULT_HEARTBEAT_S = 15;
const MISSED_HEARTBEATS = 3;
const SUBSCRIBE_ANSWER_TIMEOUT_MS = 10_000;
const LEADER_WAIT_MS = 10_000;
const CALL_TIMEOUT_MS = 15_000;
const MAX_REDIRECTS = 5;
const CALL_503_RETRIES = 3;

const KNOWN_EVENTS: ReadonlySet<string> = new Set<MesosEvent['type']>(['SUBSCRIBED', 'OFFERS', 'RESCIND', 'UPDATE', 'ERROR', 'FAILURE', 'HEARTBEAT']);

type Listeners = { [K in keyof SchedulerEvents]: Array<SchedulerEvents[K]> };

/** The subscription in force: the stream, the master holding it, and what SUBSCRIBED said. */
interface Connection {
  stream: EventStream;
  base: string;
  streamId: string;
}

export class SchedulerClient {
  private stateValue: SchedulerClientState = 'idle';
  private id: string | undefined;
  private connection: Connection | undefined;
  /** The stream being opened or open (also before SUBSCRIBED arrives). */
  private current: EventStream | undefined;
  private readonly listeners: Listeners = { subscribed: [], offers: [], rescind: [], update: [], error: [], disconnected: [] };
  private readonly master: MasterAddress;
  /** Fixed master: where to SUBSCRIBE next (moved by 307s, so the next attempt goes straight to the leader). */
  private target: string | undefined;
  private detector: LeaderDetector | undefined;
  private unsubscribeDetector: () => void = () => undefined;
  private readonly callAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly abort = new AbortController();
  private watchdog: NodeJS.Timeout | undefined;
  private heartbeatMs = DEFAULT_HEARTBEAT_S * 1000;
  private attempt = 0;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly logger: Logger;
  private readonly autoAcknowledge: boolean;

  constructor(private readonly options: SchedulerClientOptions) {
    this.master = parseMasterAddress(options.master);
    if (this.master.kind === 'fixed') this.target = this.master.base;
    this.id = options.frameworkId;
    this.autoAcknowledge = options.autoAcknowledge ?? true;
    this.logger = options.logger.child({ component: 'scheduler-client', framework: options.frameworkInfo.name });
  }

  get frameworkId(): string | undefined {
    return this.id;
  }

  get connected(): boolean {
    return this.stateValue === 'subscribed';
  }

  get state(): SchedulerClientState {
    return this.stateValue;
  }

  on<K extends keyof SchedulerEvents>(event: K, handler: SchedulerEvents[K]): void {
    (this.listeners[event] as Array<SchedulerEvents[K]>).push(handler);
  }

  /** Connects and keeps reconnecting (backoff with jitter, 200 ms … 10 s) until stop(). */
  start(): void {
    if (this.stateValue !== 'idle') return;
    this.stateValue = 'connecting';
    this.loop = this.run();
  }

  /** Closes the stream without TEARDOWN: the master keeps the framework's tasks for failover_timeout. */
  async stop(): Promise<void> {
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'stopped';
    this.abort.abort();
    this.wake?.();
    this.clearWatchdog();
    this.current?.close('the scheduler client was stopped');
    this.connection = undefined;
    await this.loop;
    this.unsubscribeDetector();
    await this.detector?.close();
    this.callAgent.destroy();
  }

  // ---- calls ----

  async accept(offerIds: string[], tasks: MesosTaskInfo[], refuseSeconds?: number): Promise<void> {
    await this.call((framework_id) => ({
      type: 'ACCEPT',
      framework_id,
      accept: {
        offer_ids: offerIds.map((value) => ({ value })),
        operations: tasks.length === 0 ? [] : [{ type: 'LAUNCH', launch: { task_infos: tasks } }],
        ...(refuseSeconds === undefined ? {} : { filters: { refuse_seconds: refuseSeconds } }),
      },
    }));
  }

  async decline(offerIds: string[], refuseSeconds?: number): Promise<void> {
    await this.call((framework_id) => ({
      type: 'DECLINE',
      framework_id,
      decline: {
        offer_ids: offerIds.map((value) => ({ value })),
        ...(refuseSeconds === undefined ? {} : { filters: { refuse_seconds: refuseSeconds } }),
      },
    }));
  }

  async kill(taskId: string, agentId?: string): Promise<void> {
    await this.call((framework_id) => ({
      type: 'KILL',
      framework_id,
      kill: { task_id: { value: taskId }, ...(agentId === undefined ? {} : { agent_id: { value: agentId } }) },
    }));
  }

  async acknowledge(status: MesosTaskStatus): Promise<void> {
    const { uuid, agent_id: agentId } = status;
    if (uuid === undefined || agentId === undefined) {
      throw new SchedulerClientError(
        'NOT_ACKNOWLEDGEABLE',
        `the update ${status.state} of task '${status.task_id.value}' has no ${uuid === undefined ? 'uuid' : 'agent_id'}: only agent updates with a uuid are acknowledged`,
      );
    }
    await this.call((framework_id) => ({ type: 'ACKNOWLEDGE', framework_id, acknowledge: { agent_id: agentId, task_id: status.task_id, uuid } }));
  }

  /** [] = implicit reconciliation (the master answers every task of the framework). */
  async reconcile(tasks: Array<{ taskId: string; agentId?: string }>): Promise<void> {
    await this.call((framework_id) => ({
      type: 'RECONCILE',
      framework_id,
      reconcile: {
        tasks: tasks.map((t) => ({ task_id: { value: t.taskId }, ...(t.agentId === undefined ? {} : { agent_id: { value: t.agentId } }) })),
      },
    }));
  }

  async revive(): Promise<void> {
    await this.call((framework_id) => ({ type: 'REVIVE', framework_id }));
  }

  async suppress(): Promise<void> {
    await this.call((framework_id) => ({ type: 'SUPPRESS', framework_id }));
  }

  /** Removes the framework from the master at once (its tasks are killed). The client stays subscribed until stop(). */
  async teardown(): Promise<void> {
    await this.call((framework_id) => ({ type: 'TEARDOWN', framework_id }));
  }

  private async call(build: (frameworkId: { value: string }) => FrameworkCall): Promise<void> {
    const connection = this.connection;
    const id = this.id;
    if (this.stateValue !== 'subscribed' || !connection || id === undefined) {
      const type = build({ value: id ?? '' }).type;
      throw new SchedulerClientError(
        'NOT_CONNECTED',
        `cannot send ${type}: the scheduler client is ${this.stateValue}, not subscribed to a master${this.stateValue === 'idle' ? ' (call start() first)' : ' — retry after the next "subscribed" event'}`,
      );
    }
    const body = build({ value: id });
    const headers = { 'Mesos-Stream-Id': connection.streamId, ...this.authHeaders() };
    let url = `${connection.base}${SCHEDULER_PATH}`;
    for (let attempt = 0; ; attempt++) {
      let answer;
      try {
        answer = await postJson(url, body, { agent: this.callAgent, headers, timeoutMs: CALL_TIMEOUT_MS });
      } catch (err) {
        throw new SchedulerClientError('CALL_FAILED', `${body.type} to ${url} failed: ${errorMessage(err)}`, undefined, { cause: err });
      }
      if (answer.status >= 200 && answer.status < 300) return;
      const location = answer.headers.location;
      if (answer.status === 307 && typeof location === 'string' && attempt < MAX_REDIRECTS) {
        url = `${redirectBase(location, url)}${SCHEDULER_PATH}`;
        continue;
      }
      if (answer.status === 503 && attempt < CALL_503_RETRIES) {
        await this.pause(backoffDelay(attempt, { minMs: RECONNECT_MIN_MS, maxMs: 2_000 }));
        if (this.isStopped()) break;
        continue;
      }
      throw new SchedulerClientError('CALL_REFUSED', `${body.type} refused by ${url}: ${answer.status} ${answerMessage(answer)}`, answer.status);
    }
    throw new SchedulerClientError('NOT_CONNECTED', `cannot send ${body.type}: the scheduler client was stopped`);
  }

  private authHeaders(): Record<string, string> {
    const credentials = this.options.credentials;
    if (!credentials) return {};
    return { Authorization: `Basic ${Buffer.from(`${credentials.principal}:${credentials.secret}`, 'utf8').toString('base64')}` };
  }

  // ---- the subscription loop ----

  private async run(): Promise<void> {
    while (this.stateValue !== 'stopped') {
      let reason: string;
      try {
        reason = await this.subscribeOnce();
      } catch (err) {
        reason = errorMessage(err);
      }
      if (this.isStopped()) break;
      const delayMs = backoffDelay(this.attempt++, { minMs: RECONNECT_MIN_MS, maxMs: RECONNECT_MAX_MS });
      this.logger.warn({ reason, retryInMs: delayMs, frameworkId: this.id }, 'not subscribed to the master; retrying');
      await this.pause(delayMs);
    }
  }

  // A method, so TypeScript does not narrow stateValue across awaits.
  private isStopped(): boolean {
    return this.stateValue === 'stopped';
  }

  /** Resolves after `ms`, or earlier when stop() runs or the leading master changes. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      const previous = this.wake;
      this.wake = () => {
        previous?.();
        done();
      };
    });
  }

  /** One subscription from finding the master to the stream's end; resolves with why it ended. */
  private async subscribeOnce(): Promise<string> {
    this.stateValue = 'connecting';
    let base = await this.findMaster();
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (this.isStopped()) return 'stopped';
      const url = `${base}${SCHEDULER_PATH}`;
      let ended!: (reason: string) => void;
      const endedPromise = new Promise<string>((resolve) => (ended = resolve));
      const streamBase = base;
      const outcome = await openSubscription({
        url,
        body: this.subscribeCall(),
        headers: this.authHeaders(),
        connectTimeoutMs: SUBSCRIBE_ANSWER_TIMEOUT_MS,
        signal: this.abort.signal,
        handlers: {
          onEvent: (event, stream) => this.onEvent(event, stream, streamBase),
          onEnd: (reason) => {
            this.onStreamEnd(reason);
            ended(reason);
          },
        },
      });
      switch (outcome.kind) {
        case 'redirect':
          base = redirectBase(outcome.location, url);
          if (this.master.kind === 'fixed') this.target = base;
          this.logger.debug({ from: url, to: base }, 'SUBSCRIBE redirected to the leading master');
          continue;
        case 'refused': {
          const message = `SUBSCRIBE refused by ${url}: ${outcome.status} ${outcome.message}`;
          // 503: no leader yet (or it is suspended) — just retry. Anything else the framework should hear of.
          if (outcome.status !== 503) this.emit('error', message);
          throw new SchedulerClientError('SUBSCRIBE_FAILED', message, outcome.status);
        }
        case 'stream':
          if (this.isStopped()) {
            outcome.stream.close('stopped');
            return 'stopped';
          }
          if (!outcome.stream.ended) {
            this.current = outcome.stream;
            if (this.stateValue === 'connecting') this.stateValue = 'subscribing';
            this.armWatchdog(outcome.stream);
          }
          return await endedPromise;
        default:
          return assertNever(outcome, 'subscribe outcome');
      }
    }
    throw new SchedulerClientError('SUBSCRIBE_FAILED', `SUBSCRIBE was redirected more than ${MAX_REDIRECTS} times (last: ${base})`);
  }

  private subscribeCall(): SubscribeCall {
    const info = this.options.frameworkInfo;
    const frameworkInfo: MesosFrameworkInfo = {
      user: info.user ?? 'root',
      name: info.name,
      // Agents keep tasks and updates across their own restarts: what a failover-capable framework wants.
      checkpoint: true,
      ...(this.id === undefined ? {} : { id: { value: this.id } }),
      ...(info.failover_timeout === undefined ? {} : { failover_timeout: info.failover_timeout }),
      ...(info.role === undefined ? {} : { role: info.role }),
      ...(info.principal === undefined ? {} : { principal: info.principal }),
      ...(info.hostname === undefined ? {} : { hostname: info.hostname }),
      ...(info.webui_url === undefined ? {} : { webui_url: info.webui_url }),
      ...(info.capabilities === undefined ? {} : { capabilities: info.capabilities.map((type) => ({ type })) }),
    };
    return {
      type: 'SUBSCRIBE',
      ...(this.id === undefined ? {} : { framework_id: { value: this.id } }),
      subscribe: { framework_info: frameworkInfo },
    };
  }

  /** The base URL to SUBSCRIBE at: the leader in ZooKeeper, or the fixed address (moved by 307s). */
  private async findMaster(): Promise<string> {
    if (this.master.kind === 'fixed') return this.target ?? this.master.base;
    if (!this.detector) {
      const detector = await LeaderDetector.create({ url: this.master.url, logger: this.logger });
      if (this.isStopped()) {
        await detector.close();
        throw new SchedulerClientError('NOT_CONNECTED', 'stopped');
      }
      this.detector = detector;
      this.unsubscribeDetector = detector.onChange((leader) => {
        if (!leader) return; // a gap between leaders: keep the stream until a new one is known
        const base = `http://${leaderAddress(leader)}`;
        const connection = this.connection;
        if (connection && connection.base !== base) {
          this.logger.info({ from: connection.base, to: base }, 'the leading master changed; re-subscribing');
          connection.stream.close(`the leading master changed to ${base}`);
        }
        this.wake?.();
      });
    }
    const leader = await this.detector.waitForLeader(LEADER_WAIT_MS, this.abort.signal);
    return `http://${leaderAddress(leader)}`;
  }

  // ---- events ----

  private onEvent(event: MesosEvent, stream: EventStream, base: string): void {
    if (this.isStopped() || stream.ended) return;
    this.armWatchdog(stream);
    if (!KNOWN_EVENTS.has(event.type)) {
      // A newer master may send event types this client does not know: ignore them, as Mesos says.
      this.logger.debug({ type: event.type }, 'ignoring an unknown event type');
      return;
    }
    switch (event.type) {
      case 'SUBSCRIBED': {
        const id = event.subscribed.framework_id.value;
        this.id = id;
        this.current = stream;
        this.connection = { stream, base, streamId: stream.streamId };
        this.heartbeatMs = (event.subscribed.heartbeat_interval_seconds ?? DEFAULT_HEARTBEAT_S) * 1000;
        this.armWatchdog(stream);
        this.stateValue = 'subscribed';
        this.attempt = 0;
        this.logger.info({ frameworkId: id, master: base, streamId: stream.streamId }, 'subscribed');
        this.emit('subscribed', id);
        return;
      }
      case 'OFFERS':
        if (event.offers.offers.length > 0) this.emit('offers', event.offers.offers);
        return;
      case 'RESCIND':
        this.emit('rescind', event.rescind.offer_id.value);
        return;
      case 'UPDATE':
        this.onUpdate(event.update.status);
        return;
      case 'ERROR':
        this.logger.error({ message: event.error.message }, 'the master sent an ERROR event');
        this.emit('error', event.error.message);
        return;
      case 'FAILURE':
        this.logger.info({ failure: event.failure }, 'the master reported a FAILURE');
        return;
      case 'HEARTBEAT':
        return;
      default:
        assertNever(event, 'event');
    }
  }

  private onUpdate(status: MesosTaskStatus): void {
    const { results, threw } = this.emit('update', status);
    if (!this.autoAcknowledge || status.uuid === undefined || status.agent_id === undefined) return;
    // A handler that failed has not dealt with the update: leave it unacknowledged, the agent resends it.
    if (threw) return;
    const ack = (): void => {
      this.acknowledge(status).catch((err: unknown) => {
        this.logger.warn({ task: status.task_id.value, state: status.state, err: errorMessage(err) }, 'could not acknowledge an update; the agent will resend it');
      });
    };
    const pending = results.filter(isPromiseLike);
    if (pending.length === 0) {
      ack();
      return;
    }
    Promise.all(pending).then(ack, (err: unknown) => {
      this.logger.warn({ task: status.task_id.value, state: status.state, err: errorMessage(err) }, 'an update handler failed; not acknowledging');
    });
  }

  private onStreamEnd(reason: string): void {
    const wasSubscribed = this.connection !== undefined;
    this.clearWatchdog();
    this.connection = undefined;
    this.current = undefined;
    if (this.isStopped()) return;
    this.stateValue = 'connecting';
    if (wasSubscribed) {
      this.logger.warn({ reason }, 'disconnected from the master');
      this.emit('disconnected', reason);
    }
  }

  /** No event for 3 heartbeat intervals: the stream is dead even if TCP does not know it yet. */
  private armWatchdog(stream: EventStream): void {
    this.clearWatchdog();
    const limitMs = MISSED_HEARTBEATS * this.heartbeatMs;
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      stream.close(`no event from the master for ${limitMs} ms (${MISSED_HEARTBEATS} heartbeat intervals)`);
    }, limitMs);
  }

  private clearWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private emit<K extends keyof SchedulerEvents>(event: K, ...args: Parameters<SchedulerEvents[K]>): { results: unknown[]; threw: boolean } {
    const results: unknown[] = [];
    let threw = false;
    for (const handler of [...this.listeners[event]]) {
      try {
        results.push((handler as (...a: Parameters<SchedulerEvents[K]>) => unknown)(...args));
      } catch (err) {
        threw = true;
        this.logger.error({ event, err: errorMessage(err) }, 'a scheduler event handler threw');
      }
    }
    return { results, threw };
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
