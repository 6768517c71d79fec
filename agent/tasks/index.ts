// The public face of agent/tasks/: launching, killing and watching tasks.
export { TaskManager, DEFAULT_KILL_GRACE_MS, type TaskManagerOptions, type TaskRecord } from './task-manager.js';
export { finalStatusFor, describeExit, type FinalStatus } from './final-status.js';
