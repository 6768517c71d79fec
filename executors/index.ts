// The public face of executors/.
export type {
  ExecOptions,
  ExecResult,
  Executor,
  ExecutorKind,
  ExitResult,
  RecoveredTask,
  TaskConfig,
  TaskHandle,
  TaskInspection,
} from './executor.js';
export { CommandExecutor, taskArgv } from './command/index.js';
export { DockerExecutor } from './docker/index.js';
export { ExecutorError } from './errors.js';
