// N simulated agents in one process, sharing one keep-alive socket pool and one leader source.
// Each agent has a distinct loopback IP (127.0.0.0/8): the master treats a new agent id at an
// ip:port it already knows as a replacement of the old agent, so the addresses must differ even
// though nothing listens on them.
import { epochMs } from './clock.js';
import { JsonClient } from './http-client.js';
import type { LeaderSource } from './leader-source.js';
import { REAL_AGENT_TIMING, SimAgent, type RegisterFailure, type SimAgentTiming } from './sim-agent.js';

export interface SimFleetOptions {
  count: number;
  /** Index of this fleet's first agent, so fleets in several processes get distinct ids/IPs. */
  firstIndex?: number;
  leader: LeaderSource;
  /** Sockets the whole fleet may hold to one master (default 128). */
  maxSockets?: number;
  requestTimeoutMs?: number;
  timing?: Partial<SimAgentTiming>;
  /** First registrations are spread over this long, so start-up does not flood the master (default 0). */
  startSpreadMs?: number;
}

export interface FleetSnapshot {
  count: number;
  registered: number;
  /** Agents whose last acknowledged registration is at or after `sinceMs`. */
  ackedSince: number;
  /** Latest / median acknowledgement time (epoch ms) among those. */
  lastAckMs: number | undefined;
  medianAckMs: number | undefined;
  /** Failed attempts since the fleet started, by kind. */
  failures: Record<RegisterFailure, number>;
  /** Leader changes the fleet has seen. */
  leaderChanges: number;
  /** When the fleet last learned of a new leader (epoch ms). */
  lastLeaderChangeMs: number | undefined;
}

/** 127.a.b.c for agent i, never .0 or .255 in the last byte, starting at 127.1.0.1. */
export function simAgentIp(index: number): string {
  const host = Math.floor(index / 254);
  const last = (index % 254) + 1;
  return `127.${1 + Math.floor(host / 256)}.${host % 256}.${last}`;
}

export class SimFleet {
  private readonly agents: SimAgent[];
  private readonly client: JsonClient;
  private readonly failures: Record<RegisterFailure, number> = { unreachable: 0, 'not-leader': 0, 'http-error': 0, 'no-leader': 0 };
  private readonly unsubscribe: () => void;
  private leaderChanges = 0;
  private lastLeaderChangeMs: number | undefined;

  constructor(private readonly options: SimFleetOptions) {
    this.client = new JsonClient({ maxSockets: options.maxSockets ?? 128, timeoutMs: options.requestTimeoutMs ?? 10_000 });
    const timing: SimAgentTiming = { ...REAL_AGENT_TIMING, ...options.timing };
    const first = options.firstIndex ?? 0;
    const onFailure = (kind: RegisterFailure): void => {
      this.failures[kind]++;
    };
    this.agents = Array.from({ length: options.count }, (_, i) => {
      const index = first + i;
      return new SimAgent({
        info: {
          hostname: `sim-agent-${index}`,
          ip: simAgentIp(index),
          port: 5051,
          resources: { cpus: 4, mem: 8192 },
          executors: ['command'],
          isolation: 'posix',
        },
        client: this.client,
        leader: () => options.leader.address,
        timing,
        onFailure,
      });
    });
    this.unsubscribe = options.leader.onChange(() => {
      this.leaderChanges++;
      this.lastLeaderChangeMs = epochMs();
      for (const agent of this.agents) agent.leaderChanged();
    });
  }

  start(): void {
    const spread = this.options.startSpreadMs ?? 0;
    this.agents.forEach((agent, i) => agent.start(spread === 0 ? 0 : (i / this.agents.length) * spread));
  }

  snapshot(sinceMs = 0): FleetSnapshot {
    let registered = 0;
    const acks: number[] = [];
    for (const agent of this.agents) {
      if (agent.state === 'registered') registered++;
      const ack = agent.lastAckMs;
      if (agent.state === 'registered' && ack !== undefined && ack >= sinceMs) acks.push(ack);
    }
    acks.sort((a, b) => a - b);
    return {
      count: this.agents.length,
      registered,
      ackedSince: acks.length,
      lastAckMs: acks.at(-1),
      medianAckMs: acks[Math.floor(acks.length / 2)],
      failures: { ...this.failures },
      leaderChanges: this.leaderChanges,
      lastLeaderChangeMs: this.lastLeaderChangeMs,
    };
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    for (const agent of this.agents) agent.stop();
    this.client.destroy();
    await this.options.leader.close();
  }
}
