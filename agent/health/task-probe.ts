// Which probe a task's health check runs, by check type and by how the task runs. A COMMAND check runs
// inside the task through its executor (execTask: the task's cgroup or container, environment, user).
import { assertNever, errorMessage, type HealthCheck, type TaskInfo } from '../../common/index.js';
import { taskArgv, type ExecResult, type Executor, type ExecutorKind, type TaskHandle } from '../../executors/index.js';
import type { Probe, ProbeResult } from './health-checker.js';
import { runHttpProbe, runTcpProbe } from './network-probe.js';

export interface ProbeContext {
  /** The executors the tasks run on, by kind. */
  executors: Partial<Record<ExecutorKind, Executor>>;
}

export interface ProbeTarget {
  task: TaskInfo;
  kind: ExecutorKind;
  containerId: string;
  sandboxDir: string;
  handle: TaskHandle;
}

export function probeFor(check: HealthCheck, target: ProbeTarget, context: ProbeContext): Probe {
  switch (check.type) {
    case 'COMMAND': {
      const command = check.command ?? {};
      const env: Record<string, string> = {};
      for (const { name, value } of command.environment?.variables ?? []) env[name] = value;
      return async ({ timeoutMs, signal }) => {
        const executor = context.executors[target.kind];
        if (!executor) return { healthy: false, message: `no ${target.kind} executor to run the check in` };
        let result: ExecResult;
        try {
          // Mesos CommandInfo semantics, as the task's own command: through /bin/sh -c unless shell is false.
          result = await executor.execTask(target.handle, taskArgv(command), { env, timeoutMs, signal });
        } catch (err) {
          return { healthy: false, message: `cannot run the check in the task: ${errorMessage(err)}` };
        }
        if (signal.aborted) return { healthy: false, message: 'aborted' };
        return execResult(result);
      };
    }
    case 'TCP': {
      const port = check.tcp?.port ?? 0;
      return async ({ signal }) => runTcpProbe(await hostOf(target, context), port, signal);
    }
    case 'HTTP': {
      const http = check.http ?? { port: 0 };
      return async ({ signal }) =>
        runHttpProbe(
          { host: await hostOf(target, context), port: http.port, ...(http.path === undefined ? {} : { path: http.path }), ...(http.scheme === undefined ? {} : { scheme: http.scheme }) },
          signal,
        );
    }
    default:
      return assertNever(check.type);
  }
}

/** The check's argv: through `/bin/sh -c` unless `shell` is false (Mesos CommandInfo semantics). */
function execResult(result: ExecResult): ProbeResult {
  if (result.exitCode === 0) return { healthy: true, message: 'exited with status 0' };
  const tail = result.output.trim().split('\n').at(-1) ?? '';
  const detail = tail === '' ? '' : `: ${tail}`;
  if (result.signal !== null) return { healthy: false, message: `terminated by ${result.signal}${detail}` };
  return { healthy: false, message: `exited with status ${result.exitCode ?? 'unknown'}${detail}` };
}

/** Where the task listens: this host, unless it is a container with its own network. */
async function hostOf(target: ProbeTarget, context: ProbeContext): Promise<string> {
  if (target.task.container?.docker?.network === 'HOST') return '127.0.0.1';
  const address = await context.executors[target.kind]?.taskAddress(target.handle);
  return address ?? '127.0.0.1';
}
