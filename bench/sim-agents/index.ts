// The public face of bench/sim-agents/: a fleet of lightweight agents that speak the real agent
// protocol but run nothing, for benchmarks of the master (failover, re-registration).
export { SimFleet, simAgentIp, type SimFleetOptions, type FleetSnapshot } from './fleet.js';
export { FleetProcess } from './fleet-process.js';
export type { FleetWorkerConfig } from './messages.js';
export { ManualLeader, type LeaderSource } from './leader-source.js';
export { REAL_AGENT_TIMING, type SimAgentTiming, type RegisterFailure } from './sim-agent.js';
export { SimAgentError, type SimAgentErrorCode } from './errors.js';
export { epochMs } from './clock.js';
