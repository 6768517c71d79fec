// The agent's link to the master: register (again, with the checkpointed id), heartbeat, and go
// back to registering with backoff + jitter when the master forgets us (404 AGENT_UNKNOWN) or
// cannot be reached. With ZooKeeper the master is whichever leads: when the leader changes, the link
// waits a random moment (so thousands of agents do not arrive at once) and re-registers with the new
// one. Registration tells the status update manager to (re)send what is unacknowledged and hands over
// the tasks the master already gave up on, to be killed.
import {
  AGENT_REREGISTER_JITTER_MS,
  INTERNAL_PATHS,
  RemoteError,
  errorMessage,
  leaderAddress,
  requestJson,
  type AgentInfo,
  type AgentTaskReport,
  type HeartbeatResponse,
  type Logger,
  type RegisterRequest,
  type RegisterResponse,
  type LeaderDetector,
  type MasterInfo,
  backoffDelay,
} from '../common/index.js';
import { sleep } from './sleep.js';
import type { CheckpointStore } from './checkpoint/index.js';
import { AgentError } from './errors.js';
import type { StatusUpdateManager } from './status-updates/index.js';

export type LinkState = 'disconnected' | 'registering' | 'registered';

/** Longest wait between registration attempts while masters answer 503 (an election is under way). */
const ELECTION_RETRY_MAX_MS = 2000;

export interface MasterLinkOptions {
  /** 'host:port' (or an http:// URL) of the master; ignored when `detector` is given. */
  master: string;
  /** Finds the leading master in ZooKeeper (`--master zk://…`). */
  detector?: LeaderDetector;
  /** Upper bound of the random wait before re-registering with a new leader; default AGENT_REREGISTER_JITTER_MS. */
  reregisterJitterMs?: number;
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
  private currentUrl: string | undefined;
  /** The leader (ZooKeeper) this link registers with, by MasterInfo id. */
  private leaderId: string | undefined;
  private unsubscribeDetector: (() => void) | undefined;
  private currentState: LinkState = 'disconnected';
  private id: string | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Aborted to cut a wait short: stop(), or a request to re-register. */
  private wake = new AbortController();
  /** Aborted by stop() only: ends waits that a re-registration request must not cut short. */
  private readonly stopSignal = new AbortController();
  private reregisterRequested = false;
  private readonly registeredWaiters = new Set<(id: string) => void>();
  private readonly logger: Logger;

  constructor(private readonly options: MasterLinkOptions) {
    this.id = options.agentId;
    if (options.detector) {
      this.logger = options.logger.child({ module: 'master-link' });
    } else {
      this.currentUrl = masterUrl(options.master);
      this.logger = options.logger.child({ module: 'master-link', master: this.currentUrl });
    }
  }

  /** The master this link talks to: fixed, or the leader last seen in ZooKeeper ('' while none is known). */
  get url(): string {
    return this.currentUrl ?? '';
  }

  get agentId(): string | undefined {
    return this.id;
  }

  get state(): LinkState {
    return this.currentState;
  }

  get masterHostname(): string {
    return this.currentUrl === undefined ? '' : new URL(this.currentUrl).hostname;
  }

  start(): void {
    this.unsubscribeDetector ??= this.options.detector?.onChange((leader) => this.leaderChanged(leader));
    this.running ??= this.loop().catch((err: unknown) => this.logger.error({ err }, 'master link stopped on an error'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeDetector?.();
    this.stopSignal.abort();
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

  /** A new leader (or none): stop talking to the old one and register again. */
  private leaderChanged(leader: MasterInfo | undefined): void {
    if (this.stopped) return;
    this.logger.info({ leader: leader?.pid ?? null }, leader ? 'the leading master changed' : 'no leading master known');
    this.reregisterRequested = true;
    this.wakeUp();
  }

  /** Whether ZooKeeper names a leader other than the one this link registered with. */
  private leaderMoved(): boolean {
    const detector = this.options.detector;
    return detector !== undefined && detector.leader?.id !== this.leaderId;
  }

  /** The random wait before re-registering with a new leader (Mesos: registration_backoff_factor). */
  private async jitter(): Promise<void> {
    const bound = this.options.reregisterJitterMs ?? AGENT_REREGISTER_JITTER_MS;
    const waitMs = Math.floor((this.options.random ?? Math.random)() * bound);
    this.logger.info({ waitMs }, 're-registering with the new leader after a random wait');
    await sleep(waitMs, this.stopSignal.signal);
  }

  /** Where to register now: the fixed master, or the leader ZooKeeper names (waits for one). */
  private async target(): Promise<string | undefined> {
    const detector = this.options.detector;
    if (!detector) return this.currentUrl;
    while (!this.stopped) {
      const leader = detector.leader;
      if (leader && leader.id !== this.leaderId && this.leaderId !== undefined) {
        // A failover, not the first registration: every agent is about to come at once.
        this.leaderId = leader.id;
        await this.jitter();
        continue; // the leader may have changed again meanwhile
      }
      if (leader) {
        this.leaderId = leader.id;
        this.currentUrl = `http://${leaderAddress(leader)}`;
        return this.currentUrl;
      }
      this.setState('disconnected');
      try {
        await detector.waitForLeader(60_000, this.stopSignal.signal);
      } catch (err) {
        if (!this.stopped) this.logger.warn({ err: errorMessage(err) }, 'still no leading master in ZooKeeper');
      }
    }
    return undefined;
  }

  /** Keeps trying until registered (or stopped). */
  private async register(): Promise<RegisterResponse | undefined> {
    let attempt = 0;
    while (!this.stopped) {
      const url = await this.target();
      if (url === undefined) return undefined;
      this.setState('registering');
      this.reregisterRequested = false;
      const body: RegisterRequest = { info: this.options.info(), tasks: this.options.tasks() };
      if (this.id !== undefined) body.agent_id = this.id;
      try {
        const response = await requestJson<RegisterResponse>(`${url}${INTERNAL_PATHS.register}`, {
          body,
          timeoutMs: this.options.requestTimeoutMs ?? 10_000,
        });
        if (this.stopped) return undefined;
        if (this.reregisterRequested && this.leaderMoved()) continue; // the leader changed meanwhile
        await this.registeredAs(response, url);
        return response;
      } catch (err) {
        // 503: a master is taking over (or none is known yet) — that settles within seconds, so
        // keep asking often instead of backing off towards the long ceiling meant for dead masters.
        const electing = err instanceof RemoteError && err.status === 503;
        const maxMs = electing ? Math.min(this.options.retryMaxMs, ELECTION_RETRY_MAX_MS) : this.options.retryMaxMs;
        const waitMs = backoffDelay(attempt++, { minMs: Math.min(this.options.retryMinMs, maxMs), maxMs, random: this.options.random });
        this.logger.warn({ err: errorMessage(err), retryInMs: waitMs, attempt }, 'registration with the master failed');
        await sleep(waitMs, this.wakeSignal());
      }
    }
    return undefined;
  }

  private async registeredAs(response: RegisterResponse, url: string): Promise<void> {
    if (this.id !== response.agent_id) {
      if (this.id !== undefined) this.logger.warn({ previous: this.id, now: response.agent_id }, 'the master gave this agent a new id');
      await this.options.store.saveAgentId(response.agent_id);
      this.id = response.agent_id;
    }
    this.setState('registered');
    this.options.statusUpdates.resume(url, response.agent_id);
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
    const fields = { from: previous, to: next, agentId: this.id, master: this.currentUrl };
    if (next === 'registered') this.logger.info(fields, 'registered with the master');
    else if (previous === 'registered') this.logger.warn(fields, 'lost the registration with the master');
    else this.logger.info(fields, 'master link state changed');
  }
}
