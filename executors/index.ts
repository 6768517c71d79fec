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
