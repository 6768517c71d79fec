// The public face of master/registry/.
export type { AdmittedAgent, PendingSubmission, Registry, RegistryState } from './registry.js';
export { emptyRegistryState } from './registry.js';
export { FileRegistry } from './file-registry.js';
