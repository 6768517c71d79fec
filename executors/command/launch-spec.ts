// What to run for a command task: the task's argv and its clean environment. Pure, so it is unit-tested
// on its own; the executor adds the wrapper around it.
import type { CommandInfo, PortRange } from '../../common/index.js';
import { ExecutorError } from '../errors.js';
import { portEnv } from '../port-env.js';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The task's argv: through `/bin/sh -c` unless `shell` is false (Mesos CommandInfo semantics). */
export function taskArgv(command: CommandInfo | undefined): string[] {
  const value = command?.value;
  if (value === undefined || value === '') {
    throw new ExecutorError('LAUNCH_FAILED', 'the task has no command value to run');
  }
  if (command?.shell === false) return [value, ...(command.arguments ?? [])];
  return ['/bin/sh', '-c', value];
}

export interface TaskEnvOptions {
  command: CommandInfo | undefined;
  /** The executor's extra variables; they win over the task's own. */
  extra: Record<string, string>;
  sandboxDir: string;
  /** The task's `resources.ports`: PORT0…, PORT and PORTS. */
  ports?: readonly PortRange[];
  /** PATH for the task unless it sets its own; defaults to the agent's PATH. */
  path?: string;
}

/**
 * A clean environment: nothing of the agent's leaks in except PATH. Order of precedence, lowest first:
 * PATH/HOME defaults, the task's variables, its ports (PORT0…, PORT, PORTS: the ports it was given are
 * facts, not preferences), the executor's extra variables, MESOS_SANDBOX.
 */
export function taskEnv(options: TaskEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: options.path ?? process.env.PATH ?? DEFAULT_PATH,
    HOME: options.sandboxDir,
  };
  for (const { name, value } of options.command?.environment?.variables ?? []) env[name] = value;
  Object.assign(env, portEnv(options.ports));
  Object.assign(env, options.extra);
  env.MESOS_SANDBOX = options.sandboxDir;
  return env;
}
