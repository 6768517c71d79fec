// The public face of master/.
export { Master } from './master.js';
export type { MasterOptions } from './master.js';
export type { AgentClient } from './agents/index.js';
export type { Registry, RegistryState, AdmittedAgent, PendingSubmission } from './registry/index.js';
export { FileRegistry } from './registry/index.js';
export type { MasterState } from './operator-state.js';
export type { MetricsSnapshot } from './metrics.js';
export { AgentUnknownError, RegistryError, MasterStartError } from './errors.js';
