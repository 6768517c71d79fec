// The public face of executors/command/.
export { CommandExecutor, type CommandExecutorOptions } from './command-executor.js';
export { taskArgv } from './launch-spec.js';
