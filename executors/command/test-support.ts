// Helpers for the command executor's tests: a real cgroups isolator under a throw-away root, temp
// sandboxes, and waiting for a condition with a deadline. Not part of the public face.
import { randomUUID } from 'node:crypto';
import { access, mkdtemp, readFile, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type TaskInfo } from '../../common/index.js';
import { createIsolator, type ContainerLimits, type Isolator } from '../../isolators/index.js';
import type { TaskConfig } from '../executor.js';

/** Why real cgroups v1 cannot be used here, or undefined when they can. */
export async function cgroupsV1Unavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const controller of ['memory', 'cpu', 'cpuacct', 'pids', 'freezer']) {
    try {
      await access(join('/sys/fs/cgroup', controller, 'cgroup.procs'));
    } catch {
      return `no cgroups v1 '${controller}' hierarchy at /sys/fs/cgroup/${controller}`;
    }
  }
  return undefined;
}

/** Skips the suite (printing why) when a real part is missing; fails instead under CI=true. */
export async function requireCgroupsV1(ctx: Mocha.Context): Promise<void> {
  const reason = await cgroupsV1Unavailable();
  if (reason === undefined) return;
  if (process.env.CI === 'true') throw new Error(`cgroups v1 required in CI: ${reason}`);
  console.log(`      skipped: ${reason}`);
  ctx.skip();
}

export function testCgroupsRoot(): string {
  return `tessera-test-${randomUUID().slice(0, 8)}`;
}

export function makeIsolator(cgroupsRoot: string): Promise<Isolator> {
  return createIsolator({ mode: 'cgroups', cgroupsRoot, logger: silentLogger });
}

/**
 * Removes the test's cgroups root in every hierarchy this process belongs to (the isolator removes
 * container cgroups, not the root it was given). Only empty directories go: rmdir, never rm -r.
 */
export async function removeCgroupsRoot(cgroupsRoot: string): Promise<void> {
  const own = await readFile('/proc/self/cgroup', 'utf8');
  const mounts = await readdir('/sys/fs/cgroup');
  for (const line of own.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers = '', path = '/'] = match;
    const mount =
      id === '0' ? 'unified' : controllers.startsWith('name=') ? controllers.slice('name='.length) : controllers;
    if (!mounts.includes(mount)) continue;
    await rmdir(join('/sys/fs/cgroup', mount, path, cgroupsRoot)).catch(() => undefined);
  }
}

export async function makeSandbox(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tessera-cmd-'));
}

export async function removeSandbox(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface ConfigOptions {
  sandboxDir: string;
  command: TaskInfo['command'];
  limits?: Partial<ContainerLimits>;
  env?: Record<string, string>;
}

export function taskConfig(options: ConfigOptions): TaskConfig {
  const taskId = `t-${randomUUID().slice(0, 8)}`;
  return {
    task: {
      task_id: taskId,
      name: taskId,
      agent_id: 'agent-test',
      resources: { cpus: 1, mem: 128 },
      ...(options.command ? { command: options.command } : {}),
    },
    agentId: 'agent-test',
    containerId: `c-${randomUUID()}`,
    sandboxDir: options.sandboxDir,
    limits: { cpus: 1, memBytes: 128 * 1024 * 1024, pids: 256, ...options.limits },
    env: options.env ?? {},
  };
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or fails at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function readSandboxFile(sandboxDir: string, name: string): Promise<string> {
  try {
    return await readFile(join(sandboxDir, name), 'utf8');
  } catch {
    return '';
  }
}

/** Resolves once the task's stdout contains `text`. */
export function waitForOutput(sandboxDir: string, text: string, timeoutMs = 10_000): Promise<string> {
  return waitFor(
    `'${text}' on stdout`,
    async () => {
      const out = await readSandboxFile(sandboxDir, 'stdout');
      return out.includes(text) ? out : undefined;
    },
    timeoutMs,
  );
}

export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
