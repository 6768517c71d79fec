// Helpers for the Docker executor's tests: a CgroupParent beneath this process's own cgroup, removed
// again in every hierarchy afterwards, plus sandboxes and task configs.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PortRange } from '../../common/index.js';
import type { TaskConfig } from '../executor.js';

const IMAGE = 'tessera-test/busybox:latest';
export { IMAGE as TEST_IMAGE };

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Every cgroup hierarchy's mount point: Docker makes the parent path in each v1 hierarchy and, on
 * this hybrid host, in the v2 one (/sys/fs/cgroup/unified) too.
 */
async function allCgroupMountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right || !(right.startsWith('cgroup ') || right.startsWith('cgroup2 '))) continue;
    const mountPoint = left.split(' ')[4];
    if (mountPoint) out.push(mountPoint);
  }
  return out;
}

export interface TestCgroupParent {
  /** Absolute CgroupParent to hand Docker. */
  parent: string;
  /** rmdir every directory Docker made for it (call after the containers are removed). */
  cleanup(): Promise<string[]>;
}

/**
 * `<own memory cgroup>/tessera-test-<random>/docker`: beneath our own cgroup in the memory hierarchy
 * (nested on this host) and in the others (where we sit at '/').
 */
export async function makeTestCgroupParent(): Promise<TestCgroupParent> {
  const self = await readFile('/proc/self/cgroup', 'utf8');
  const memLine = self.split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
  const own = memLine?.split(':').slice(2).join(':') ?? '/';
  const parent = path.posix.join(own, `tessera-test-${randomUUID().slice(0, 8)}`, 'docker');
  const mounts = await allCgroupMountPoints();
  // Remember which ancestors did not exist yet, per hierarchy: only those are ours to remove.
  const parts = parent.split('/').filter(Boolean);
  const ours: string[] = [];
  for (const mount of mounts) {
    for (let i = 1; i <= parts.length; i++) {
      const dir = path.join(mount, ...parts.slice(0, i));
      if (!(await exists(dir))) ours.push(dir);
    }
  }
  return {
    parent,
    async cleanup() {
      const leftovers: string[] = [];
      // Deepest first; Docker may still be tearing a container's cgroup down, so retry briefly.
      const dirs = [...ours].sort((a, b) => b.split('/').length - a.split('/').length);
      for (const dir of dirs) {
        const deadline = Date.now() + 3000;
        for (;;) {
          try {
            await rmdir(dir);
            break;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ENOENT') break;
            // A shared ancestor (e.g. /process_api/<id> in the cpu hierarchy) may be in use by others.
            if (!dir.includes('/tessera-test-')) break;
            if (Date.now() > deadline) {
              leftovers.push(`${dir} (${code})`);
              break;
            }
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
      return leftovers;
    },
  };
}

export async function makeSandbox(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'tessera-docker-sandbox-'));
}

export async function removeSandbox(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function taskConfig(options: {
  agentId: string;
  sandboxDir: string;
  command?: TaskConfig['task']['command'];
  image?: string;
  cpus?: number;
  memMb?: number;
  pids?: number;
  env?: Record<string, string>;
  network?: 'HOST' | 'BRIDGE' | 'NONE';
  ports?: PortRange[];
}): TaskConfig {
  const containerId = randomUUID();
  const cpus = options.cpus ?? 0.5;
  const memMb = options.memMb ?? 64;
  return {
    task: {
      task_id: `task-${containerId.slice(0, 8)}`,
      name: 'docker-test',
      agent_id: options.agentId,
      resources: { cpus, mem: memMb, ...(options.ports ? { ports: options.ports } : {}) },
      ...(options.command ? { command: options.command } : {}),
      container: { type: 'DOCKER', docker: { image: options.image ?? IMAGE, network: options.network ?? 'NONE' } },
    },
    agentId: options.agentId,
    containerId,
    sandboxDir: options.sandboxDir,
    limits: { cpus, memBytes: memMb * 1024 * 1024, ...(options.pids !== undefined ? { pids: options.pids } : {}) },
    env: options.env ?? {},
  };
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function fileExists(file: string): Promise<true | undefined> {
  return (await exists(file)) ? true : undefined;
}

export async function readIfExists(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return '';
  }
}
