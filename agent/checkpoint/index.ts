// The public face of agent/checkpoint/: durable agent and task state.
export { CheckpointStore, type CheckpointedTask, type CheckpointStoreOptions, type ContainerRecord } from './checkpoint-store.js';
export { parseUpdateLog, type ParsedUpdateLog, type UpdateLogEntry } from './update-log.js';
