// One simulated agent: it speaks the real agent ↔ master protocol (register, re-register with its id,
// heartbeat at the interval the master answers) and follows the real agent's timing rules, but runs
// nothing and does not listen: no task is ever launched on it, so the master never calls it.
// Its state is a few fields and one timer, so 10,000 of them fit in one process.
import {
  AGENT_REREGISTER_JITTER_MS,
  backoffDelay,
  INTERNAL_PATHS,
  type AgentInfo,
  type HeartbeatResponse,
  type RegisterRequest,
  type RegisterResponse,
} from '../../common/index.js';
import { epochMs } from './clock.js';
import { SimAgentError } from './errors.js';
import type { JsonClient } from './http-client.js';

export type SimAgentState = 'idle' | 'registering' | 'registered' | 'stopped';

/** What failed while (re-)registering, counted per fleet to show where the time goes. */
export type RegisterFailure = 'unreachable' | 'not-leader' | 'http-error' | 'no-leader';

export interface SimAgentTiming {
  /** Real agent: registration retry backoff 1 s … 30 s with equal jitter (agent/master-link.ts). */
  retryMinMs: number;
  retryMaxMs: number;
  /** Wait uniform [0, this) after a leader change before re-registering (common/protocol.ts). */
  reregisterJitterMs: number;
  random: () => number;
}

export const REAL_AGENT_TIMING: SimAgentTiming = {
  retryMinMs: 1000,
  retryMaxMs: 30_000,
  reregisterJitterMs: AGENT_REREGISTER_JITTER_MS,
  random: Math.random,
};

export interface SimAgentOptions {
  info: AgentInfo;
  client: JsonClient;
  /** The leading master's 'ip:port', if one is known. */
  leader: () => string | undefined;
  timing: SimAgentTiming;
  onFailure: (kind: RegisterFailure) => void;
}

/** The real agent's retry delay (common's backoffDelay) with this fleet's timing. */
function retryDelay(attempt: number, timing: SimAgentTiming): number {
  return backoffDelay(attempt, { minMs: timing.retryMinMs, maxMs: timing.retryMaxMs, random: timing.random });
}

export class SimAgent {
  private currentState: SimAgentState = 'idle';
  private agentId: string | undefined;
  /** Epoch ms of the last acknowledged (re-)registration. */
  private ackMs: number | undefined;
  private ackMasterId: string | undefined;
  private attempt = 0;
  /** Bumped on every leader change and stop: answers to older requests are dropped. */
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SimAgentOptions) {}

  get state(): SimAgentState {
    return this.currentState;
  }

  get id(): string | undefined {
    return this.agentId;
  }

  get lastAckMs(): number | undefined {
    return this.ackMs;
  }

  get masterId(): string | undefined {
    return this.ackMasterId;
  }

  /** First registration, at once (the fleet staggers starts itself). */
  start(delayMs = 0): void {
    if (this.currentState !== 'idle') return;
    this.currentState = 'registering';
    this.schedule(delayMs, () => void this.register());
  }

  /** The leader changed (or vanished): like the real agent, wait the jitter, then re-register. */
  leaderChanged(): void {
    if (this.currentState === 'stopped' || this.currentState === 'idle') return;
    this.generation++;
    this.currentState = 'registering';
    this.attempt = 0;
    const delay = this.options.timing.random() * this.options.timing.reregisterJitterMs;
    this.schedule(delay, () => void this.register());
  }

  stop(): void {
    this.generation++;
    this.currentState = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number, run: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      run();
    }, delayMs);
  }

  private async register(): Promise<void> {
    const generation = this.generation;
    const leader = this.options.leader();
    if (leader === undefined) {
      // The real agent waits for its detector; leaderChanged() will wake us when one is elected.
      this.options.onFailure('no-leader');
      return;
    }
    const body: RegisterRequest = { info: this.options.info, tasks: [] };
    if (this.agentId !== undefined) body.agent_id = this.agentId;
    try {
      const response = await this.options.client.post<RegisterResponse>(leader, INTERNAL_PATHS.register, body);
      if (generation !== this.generation) return;
      this.agentId = response.agent_id;
      this.ackMs = epochMs();
      this.ackMasterId = response.master_id;
      this.attempt = 0;
      this.currentState = 'registered';
      this.scheduleHeartbeat(response.heartbeat_interval_seconds * 1000);
    } catch (err) {
      if (generation !== this.generation) return;
      this.options.onFailure(failureKind(err));
      this.schedule(retryDelay(this.attempt++, this.options.timing), () => void this.register());
    }
  }

  private scheduleHeartbeat(intervalMs: number): void {
    const period = Math.max(100, Number.isFinite(intervalMs) ? intervalMs : 5000);
    this.schedule(period, () => void this.heartbeat(period));
  }

  private async heartbeat(period: number): Promise<void> {
    const generation = this.generation;
    const leader = this.options.leader();
    const id = this.agentId;
    if (leader === undefined || id === undefined) return;
    try {
      await this.options.client.post<HeartbeatResponse>(leader, INTERNAL_PATHS.heartbeat(id), {});
      if (generation !== this.generation) return;
      this.scheduleHeartbeat(period);
    } catch {
      if (generation !== this.generation) return;
      // The real agent registers again at once after a failed heartbeat (backoff only on failures).
      this.currentState = 'registering';
      this.attempt = 0;
      void this.register();
    }
  }
}

function failureKind(err: unknown): RegisterFailure {
  if (err instanceof SimAgentError && err.code === 'HTTP_STATUS') {
    return err.status === 503 || err.status === 307 ? 'not-leader' : 'http-error';
  }
  return 'unreachable';
}
