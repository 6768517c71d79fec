// The agent's link to the master: register (again, with the checkpointed id), heartbeat, and go
// back to registering with backoff + jitter when the master forgets us (404 AGENT_UNKNOWN) or
// cannot be reached. Registration tells the status update manager to (re)send what is unacknowledged
// and hands over the tasks the master already gave up on, to be killed.
import {
  INTERNAL_PATHS,
  errorMessage,
  requestJson,
  type AgentInfo,
  type AgentTaskReport,
  type HeartbeatResponse,
  type Logger,
  type RegisterRequest,
  type RegisterResponse,
} from '../common/index.js';
import { backoffDelay, sleep } from './backoff.js';
import type { CheckpointStore } from './checkpoint/index.js';
import { AgentError } from './errors.js';
import type { StatusUpdateManager } from './status-updates/index.js';

export type LinkState = 'disconnected' | 'registering' | 'registered';

export interface MasterLinkOptions {
  /** 'host:port' (or an http:// URL) of the master. */
  master: string;
  store: CheckpointStore;
  statusUpdates: StatusUpdateManager;
  logger: Logger;
  /** The checkpointed id, if this agent registered before. */
  agentId: string | undefined;
  info: () => AgentInfo;
  tasks: () => AgentTaskReport[];
  /** Tasks the master already reported lost: kill them. */
  onKill: (taskIds: string[]) => void;
  retryMinMs: number;
  retryMaxMs: number;
  requestTimeoutMs?: number;
  random?: () => number;
}

/** 'host:port' → 'http://host:port'. */
export function masterUrl(master: string): string {
  const trimmed = master.trim().replace(/\/+$/, '');
  if (/^https?:\/\//.test(trimmed)) return trimmed;
  if (trimmed.startsWith('zk://')) {
    throw new AgentError('UNSUPPORTED_MASTER', `'${master}': resolve the leading master from ZooKeeper before starting the agent; it takes host:port`);
  }
  if (!/^[^/:\s]+:\d{1,5}$/.test(trimmed) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(trimmed)) {
    throw new AgentError('UNSUPPORTED_MASTER', `'${master}' is not host:port`);
  }
  return `http://${trimmed}`;
}

export class MasterLink {
  readonly url: string;
  private currentState: LinkState = 'disconnected';
  private id: string | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Aborted to cut a wait short: stop(), or a request to re-register. */
  private wake = new AbortController();
  private reregisterRequested = false;
  private readonly registeredWaiters = new Set<(id: string) => void>();
  private readonly logger: Logger;

  constructor(private readonly options: MasterLinkOptions) {
    this.url = masterUrl(options.master);
    this.id = options.agentId;
    this.logger = options.logger.child({ module: 'master-link', master: this.url });
  }

  get agentId(): string | undefined {
    return this.id;
  }

  get state(): LinkState {
    return this.currentState;
  }

  get masterHostname(): string {
    return new URL(this.url).hostname;
  }

  start(): void {
    this.running ??= this.loop().catch((err: unknown) => this.logger.error({ err }, 'master link stopped on an error'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp();
    await this.running;
    this.setState('disconnected');
  }

  /** The master does not know us (a status update got 404 AGENT_UNKNOWN): register again. */
  reregister(): void {
    this.reregisterRequested = true;
    this.wakeUp();
  }

  /** Resolves with the agent id once registered (immediately if it is). */
  registered(): Promise<string> {
    if (this.currentState === 'registered' && this.id !== undefined) return Promise.resolve(this.id);
    return new Promise((resolve) => this.registeredWaiters.add(resolve));
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const response = await this.register();
      if (!response) return;
      await this.heartbeat(response.heartbeat_interval_seconds * 1000);
      this.options.statusUpdates.pause();
      if (!this.stopped) this.setState('disconnected');
    }
  }

  /** Keeps trying until registered (or stopped). */
  private async register(): Promise<RegisterResponse | undefined> {
    let attempt = 0;
    while (!this.stopped) {
      this.setState('registering');
      this.reregisterRequested = false;
      const body: RegisterRequest = { info: this.options.info(), tasks: this.options.tasks() };
      if (this.id !== undefined) body.agent_id = this.id;
      try {
        const response = await requestJson<RegisterResponse>(`${this.url}${INTERNAL_PATHS.register}`, {
          body,
          timeoutMs: this.options.requestTimeoutMs ?? 10_000,
        });
        if (this.stopped) return undefined;
        await this.registeredAs(response);
        return response;
      } catch (err) {
        const waitMs = backoffDelay(attempt++, { minMs: this.options.retryMinMs, maxMs: this.options.retryMaxMs, random: this.options.random });
        this.logger.warn({ err: errorMessage(err), retryInMs: waitMs, attempt }, 'registration with the master failed');
        await sleep(waitMs, this.wakeSignal());
      }
    }
    return undefined;
  }

  private async registeredAs(response: RegisterResponse): Promise<void> {
    if (this.id !== response.agent_id) {
      if (this.id !== undefined) this.logger.warn({ previous: this.id, now: response.agent_id }, 'the master gave this agent a new id');
      await this.options.store.saveAgentId(response.agent_id);
      this.id = response.agent_id;
    }
    this.setState('registered');
    this.options.statusUpdates.resume(this.url, response.agent_id);
    for (const resolve of this.registeredWaiters) resolve(response.agent_id);
    this.registeredWaiters.clear();
    if (response.kill_task_ids.length > 0) {
      this.logger.warn({ taskIds: response.kill_task_ids }, 'the master asks to kill tasks it already gave up on');
      this.options.onKill(response.kill_task_ids);
    }
  }

  /** Heartbeats until a heartbeat fails, a re-registration is asked for, or stop(). */
  private async heartbeat(intervalMs: number): Promise<void> {
    const period = Math.max(100, Number.isFinite(intervalMs) ? intervalMs : 5000);
    while (!this.stopped && !this.reregisterRequested) {
      await sleep(period, this.wakeSignal());
      if (this.stopped || this.reregisterRequested) return;
      const id = this.id;
      if (id === undefined) return;
      try {
        await requestJson<HeartbeatResponse>(`${this.url}${INTERNAL_PATHS.heartbeat(id)}`, {
          body: {},
          timeoutMs: this.options.requestTimeoutMs ?? 10_000,
        });
      } catch (err) {
        this.logger.warn({ err: errorMessage(err) }, 'heartbeat failed; registering again');
        return;
      }
    }
  }

  private wakeSignal(): AbortSignal {
    return this.wake.signal;
  }

  private wakeUp(): void {
    const old = this.wake;
    this.wake = new AbortController();
    old.abort();
  }

  private setState(next: LinkState): void {
    if (next === this.currentState) return;
    const previous = this.currentState;
    this.currentState = next;
    const fields = { from: previous, to: next, agentId: this.id };
    if (next === 'registered') this.logger.info(fields, 'registered with the master');
    else if (previous === 'registered') this.logger.warn(fields, 'lost the registration with the master');
    else this.logger.info(fields, 'master link state changed');
  }
}
