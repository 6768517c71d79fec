// Pure mapping from a TaskConfig to the container Docker should create, and back from labels to a
// TaskHandle. Kept free of I/O so it is unit-testable.
import { assertNever, type DockerInfo } from '../../common/index.js';
import type { TaskConfig, TaskHandle } from '../executor.js';
import { portEnv, taskPorts } from '../port-env.js';
import type { ContainerSpec } from './docker-client.js';

export const SANDBOX_MOUNT = '/mnt/mesos/sandbox';

export const LABELS = {
  agentId: 'tessera.agent_id',
  taskId: 'tessera.task_id',
  containerId: 'tessera.container_id',
  sandbox: 'tessera.sandbox',
} as const;

export function containerName(containerId: string): string {
  return `tessera-${containerId}`;
}

export function networkMode(network: DockerInfo['network']): string {
  if (network === undefined) return 'bridge';
  switch (network) {
    case 'HOST':
      return 'host';
    case 'BRIDGE':
      return 'bridge';
    case 'NONE':
      return 'none';
    default:
      return assertNever(network);
  }
}

/** Cmd for the container; undefined means "the image's default CMD". */
export function containerCmd(command: TaskConfig['task']['command']): string[] | undefined {
  if (command?.value === undefined || command.value === '') return undefined;
  if (command.shell === false) return [command.value, ...(command.arguments ?? [])];
  return ['/bin/sh', '-c', command.value];
}

export function buildContainerSpec(config: TaskConfig, image: string, cgroupParent: string | undefined): ContainerSpec {
  const env: Record<string, string> = {};
  for (const v of config.task.command?.environment?.variables ?? []) env[v.name] = v.value;
  Object.assign(env, portEnv(config.task.resources.ports));
  Object.assign(env, config.env);
  env.MESOS_SANDBOX = SANDBOX_MOUNT;
  const mode = networkMode(config.task.container?.docker?.network);
  const published = mode === 'bridge' ? publishSamePorts(taskPorts(config.task.resources.ports)) : undefined;

  const memBytes = Math.round(config.limits.memBytes);
  return {
    name: containerName(config.containerId),
    image,
    cmd: containerCmd(config.task.command),
    env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    labels: {
      [LABELS.agentId]: config.agentId,
      [LABELS.taskId]: config.task.task_id,
      [LABELS.containerId]: config.containerId,
      [LABELS.sandbox]: config.sandboxDir,
    },
    hostConfig: {
      Memory: memBytes,
      // Equal to Memory: no swap, as the cgroup isolators do.
      MemorySwap: memBytes,
      NanoCpus: Math.round(config.limits.cpus * 1e9),
      // Docker rejects shares below 2.
      CpuShares: Math.max(2, Math.round(config.limits.cpus * 1024)),
      ...(config.limits.pids !== undefined ? { PidsLimit: config.limits.pids } : {}),
      ...(cgroupParent !== undefined ? { CgroupParent: cgroupParent } : {}),
      NetworkMode: mode,
      Binds: [`${config.sandboxDir}:${SANDBOX_MOUNT}`],
      ...(published ? { PortBindings: published.bindings } : {}),
    },
    ...(published ? { exposedPorts: published.exposed } : {}),
  };
}

/**
 * On a bridge network each host port the task was given is published to the same port inside the
 * container, so `$PORT` is right on both sides and a task behaves the same on HOST and BRIDGE
 * networks (HOST needs nothing: the container shares the host's ports; NONE has no network to
 * publish on). Mesos's docker `port_mappings` (host port → a different container port) are not part
 * of our ContainerInfo; when they are, they would replace this identity mapping. TCP only, as Mesos
 * maps by default; every published port costs Docker a proxy, so a task should ask for few.
 */
export function publishSamePorts(ports: readonly number[]): { exposed: Record<string, Record<string, never>>; bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> } | undefined {
  if (ports.length === 0) return undefined;
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const port of ports) {
    const key = `${port}/tcp`;
    exposed[key] = {};
    // All host addresses, as Mesos publishes them: the port is the agent's to hand out.
    bindings[key] = [{ HostIp: '', HostPort: String(port) }];
  }
  return { exposed, bindings };
}

/** Rebuilds a handle from a container's labels; undefined if they are not ours / incomplete. */
export function handleFromLabels(
  dockerId: string,
  labels: Record<string, string>,
  startedAt: number,
): TaskHandle | undefined {
  const taskId = labels[LABELS.taskId];
  const containerId = labels[LABELS.containerId];
  const sandboxDir = labels[LABELS.sandbox];
  if (taskId === undefined || containerId === undefined || sandboxDir === undefined) return undefined;
  return { kind: 'docker', taskId, containerId, sandboxDir, dockerId, startedAt };
}
