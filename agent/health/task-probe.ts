// Which probe a task's health check runs, by check type and by how the task runs.
import { assertNever, type HealthCheck, type TaskInfo } from '../../common/index.js';
import type { ExecutorKind, TaskHandle } from '../../executors/index.js';
import type { Isolator } from '../../isolators/index.js';
import { checkArgv, runCommandProbe } from './command-probe.js';
import type { ContainerExec } from './container-exec.js';
import type { Probe, ProbeResult } from './health-checker.js';
import { runHttpProbe, runTcpProbe } from './network-probe.js';

export interface ProbeContext {
  isolator: Isolator;
  /** Present when Docker tasks can run here. */
  containers?: ContainerExec;
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
      if (target.kind === 'command') {
        return ({ timeoutMs, signal }) =>
          runCommandProbe({
            isolator: context.isolator,
            target: { containerId: target.containerId, sandboxDir: target.sandboxDir, taskPid: target.handle.pid },
            command,
            timeoutMs,
            signal,
          });
      }
      return async ({ signal }) => {
        const containers = context.containers;
        const dockerId = target.handle.dockerId;
        if (!containers || dockerId === undefined) return { healthy: false, message: 'no Docker engine to run the check in' };
        const env = (command.environment?.variables ?? []).map((v) => `${v.name}=${v.value}`);
        const result = await containers.exec(dockerId, checkArgv(command), { env, signal });
        if (signal.aborted) return { healthy: false, message: 'aborted' };
        return execResult(result.exitCode, result.output);
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

function execResult(exitCode: number | null, output: string): ProbeResult {
  if (exitCode === 0) return { healthy: true, message: 'exited with status 0' };
  const tail = output.trim().split('\n').at(-1) ?? '';
  return { healthy: false, message: `exited with status ${exitCode ?? 'unknown'}${tail === '' ? '' : `: ${tail}`}` };
}

/** Where the task listens: this host, unless it is a container with its own network. */
async function hostOf(target: ProbeTarget, context: ProbeContext): Promise<string> {
  const network = target.task.container?.docker?.network;
  if (target.kind !== 'docker' || network === 'HOST' || target.handle.dockerId === undefined || !context.containers) return '127.0.0.1';
  return (await context.containers.address(target.handle.dockerId)) ?? '127.0.0.1';
}
