// The public face of master/.
export { Master } from './master.js';
export type { MasterOptions, MasterRole, MasterZkOptions } from './master.js';
export type { AgentClient } from './agents/index.js';
export type { Registry, RegistryState, AdmittedAgent, TaskRecord } from './registry/index.js';
export { FileRegistry, ZkRegistry } from './registry/index.js';
export type { MasterState, FollowerState } from './operator-state.js';
export type { MetricsSnapshot } from './metrics.js';
export { AgentUnknownError, RegistryError, MasterStartError } from './errors.js';
export { readCredentialsFile } from './frameworks/index.js';
