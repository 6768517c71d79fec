// The public face of master/registry/.
export type { AdmittedAgent, FrameworkRecord, TaskRecord, Registry, RegistryState } from './registry.js';
export { emptyRegistryState } from './registry.js';
export { admittedAgentSchema, frameworkRecordSchema, taskRecordSchema } from './schemas.js';
export { FileRegistry } from './file-registry.js';
export { ZkRegistry, DEFAULT_REGISTRY_SHARDS, fnv1a32 } from './zk-registry.js';
export type { ZkRegistryOptions } from './zk-registry.js';
