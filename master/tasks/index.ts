// The public face of master/tasks/.
export { TaskStore } from './task-store.js';
export type { TaskStoreOptions, UpdateOutcome } from './task-store.js';
export { masterStatus } from './master-status.js';
export { TaskWatch } from './task-watch.js';
