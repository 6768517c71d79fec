// The public face of executors/.
export type {
  Executor,
  ExecutorKind,
  ExitResult,
  RecoveredTask,
  TaskConfig,
  TaskHandle,
  TaskInspection,
} from './executor.js';
export { CommandExecutor } from './command/index.js';
export { DockerExecutor } from './docker/index.js';
export { ExecutorError } from './errors.js';
