// Helpers for the command executor's tests: a real cgroups isolator (v1 or v2, whichever this host
// has) under a throw-away root, where a task's cgroup must be, temp sandboxes, and waiting for a
// condition with a deadline. Not part of the public face.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { access, mkdtemp, readFile, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { assertNever, silentLogger, type PortRange, type TaskInfo } from '../../common/index.js';
import { createIsolator, detectCgroupVersion, type ContainerLimits, type Isolator } from '../../isolators/index.js';
import type { TaskConfig } from '../executor.js';

/** The cgroup versions these tests know how to check. */
export type RealCgroupVersion = 'v1' | 'v2';

const CGROUP_MOUNT = '/sys/fs/cgroup';
const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'] as const;
const V2_CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

/** The real cgroups of this host, or why there are none usable (then `version` is undefined). */
export async function realCgroups(): Promise<{ version?: RealCgroupVersion; reason?: string }> {
  if (process.getuid?.() !== 0) return { reason: 'not running as root' };
  const version = await detectCgroupVersion();
  switch (version) {
    case 'v1':
      for (const controller of V1_CONTROLLERS) {
        try {
          await access(join(CGROUP_MOUNT, controller, 'cgroup.procs'));
        } catch {
          return { reason: `no cgroups v1 '${controller}' hierarchy at ${CGROUP_MOUNT}/${controller}` };
        }
      }
      return { version };
    case 'v2': {
      // The mount's root offers them (detect checked); our own cgroup must have them delegated too.
      const own = join(CGROUP_MOUNT, await ownV2Base());
      const available = (await readFile(join(own, 'cgroup.controllers'), 'utf8')).split(/\s+/);
      const missing = V2_CONTROLLERS.filter((c) => !available.includes(c));
      if (missing.length > 0) return { reason: `cgroup v2 controllers ${missing.join(', ')} not delegated to ${own}` };
      return { version };
    }
    case 'none':
      return { reason: `neither cgroups v2 at ${CGROUP_MOUNT} nor the v1 hierarchies ${V1_CONTROLLERS.join(', ')}` };
    default:
      return assertNever(version, 'cgroup version');
  }
}

/**
 * The cgroup version to test against. Skips the test (printing why) when neither v1 nor v2 is usable;
 * fails instead under CI=true, and whenever TESSERA_REQUIRE_CGROUP2=1 (the v2 VM) finds no v2.
 */
export async function requireRealCgroups(ctx: Mocha.Context): Promise<RealCgroupVersion> {
  const { version, reason } = await realCgroups();
  if (process.env.TESSERA_REQUIRE_CGROUP2 === '1' && version !== 'v2') {
    throw new Error(`TESSERA_REQUIRE_CGROUP2=1 but cgroups v2 is not usable: ${reason ?? `this host is ${version}`}`);
  }
  if (version !== undefined) return version;
  if (process.env.CI === 'true') throw new Error(`real cgroups required in CI: ${reason}`);
  console.log(`      skipped: ${reason}`);
  ctx.skip();
}

/**
 * This process's cgroup v2 path (the `0::` line), less any `<root>.agent` leaf the v2 isolator moved
 * it into (isolators/cgroups2/hierarchy.ts): container cgroups live beside that leaf, not in it.
 */
export async function ownV2Base(): Promise<string> {
  const own = (await readFile('/proc/self/cgroup', 'utf8')).match(/^0::(.*)$/m)?.[1] ?? '/';
  const segments = own.split('/').filter((s) => s !== '');
  while (segments.at(-1)?.endsWith('.agent')) segments.pop();
  return posix.join('/', ...segments);
}

/** This process's own cgroup path in one v1 hierarchy. */
async function ownV1Path(controller: string): Promise<string> {
  const line = (await readFile('/proc/self/cgroup', 'utf8'))
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(controller));
  return line?.split(':')[2] ?? '/';
}

/** Every directory the container's cgroup has: one per v1 hierarchy, or the one v2 directory. */
export async function containerCgroupDirs(
  version: RealCgroupVersion,
  cgroupsRoot: string,
  containerId: string,
): Promise<string[]> {
  switch (version) {
    case 'v1':
      return Promise.all(
        V1_CONTROLLERS.map(async (c) => join(CGROUP_MOUNT, c, await ownV1Path(c), cgroupsRoot, containerId)),
      );
    case 'v2':
      return [join(CGROUP_MOUNT, await ownV2Base(), cgroupsRoot, containerId)];
    default:
      return assertNever(version, 'cgroup version');
  }
}

/**
 * Checks a task's /proc/self/cgroup text: in v1 its memory, cpu, cpuacct and pids lines end in
 * /<cgroupsRoot>/<containerId>; in v2 its one `0::` line is exactly that cgroup beneath our own.
 */
export async function assertInContainerCgroup(
  version: RealCgroupVersion,
  procCgroup: string,
  cgroupsRoot: string,
  containerId: string,
): Promise<void> {
  const lines = procCgroup.split('\n').filter((l) => l !== '');
  switch (version) {
    case 'v1':
      for (const controller of ['memory', 'cpu', 'cpuacct', 'pids']) {
        const line = lines.find((l) => l.split(':')[1]?.split(',').includes(controller));
        assert.ok(line, `no ${controller} line in ${lines.join(' | ')}`);
        assert.ok(line.endsWith(`/${cgroupsRoot}/${containerId}`), `${controller} cgroup is not the container's: ${line}`);
      }
      return;
    case 'v2': {
      const unified = lines.filter((l) => l.startsWith('0::'));
      assert.deepEqual(unified, [`0::${posix.join(await ownV2Base(), cgroupsRoot, containerId)}`], lines.join(' | '));
      return;
    }
    default:
      return assertNever(version, 'cgroup version');
  }
}

export function testCgroupsRoot(): string {
  return `tessera-test-${randomUUID().slice(0, 8)}`;
}

export function makeIsolator(cgroupsRoot: string): Promise<Isolator> {
  return createIsolator({ mode: 'cgroups', cgroupsRoot, logger: silentLogger });
}

/**
 * Removes the test's cgroups root beneath this process's cgroup (the isolator removes container
 * cgroups, not the root it was given): in every v1 hierarchy this process belongs to, or the one v2
 * directory. Only empty directories go (rmdir, never rm -r); one that stays is an error.
 */
export async function removeCgroupsRoot(version: RealCgroupVersion, cgroupsRoot: string): Promise<void> {
  const dirs: string[] = [];
  if (version === 'v2') {
    dirs.push(join(CGROUP_MOUNT, await ownV2Base(), cgroupsRoot));
  } else {
    const own = await readFile('/proc/self/cgroup', 'utf8');
    const mounts = await readdir(CGROUP_MOUNT);
    for (const line of own.split('\n')) {
      const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
      if (!match) continue;
      const [, id, controllers = '', path = '/'] = match;
      const mount =
        id === '0' ? 'unified' : controllers.startsWith('name=') ? controllers.slice('name='.length) : controllers;
      if (mounts.includes(mount)) dirs.push(join(CGROUP_MOUNT, mount, path, cgroupsRoot));
    }
  }
  for (const dir of dirs) {
    await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw new Error(`cgroups root left behind: ${dir}: ${err.message}`, { cause: err });
    });
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
  ports?: PortRange[];
}

export function taskConfig(options: ConfigOptions): TaskConfig {
  const taskId = `t-${randomUUID().slice(0, 8)}`;
  return {
    task: {
      task_id: taskId,
      name: taskId,
      agent_id: 'agent-test',
      resources: { cpus: 1, mem: 128, ...(options.ports ? { ports: options.ports } : {}) },
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

/** Pids of the spawner processes (spawner-main.js) whose parent is `parentPid`. */
export async function spawnerPids(parentPid: number = process.pid): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so split after its closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== parentPid) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('spawner-main.js')) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}
