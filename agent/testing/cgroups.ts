// Real-cgroups test helpers: which cgroup version this host offers (v1, or v2 as in the VM of
// scripts/cgroup2-vm/run.sh), skipping (or failing under CI / TESSERA_REQUIRE_CGROUP2=1) when neither
// is usable, and removing a test's cgroups root afterwards (the isolator removes container cgroups,
// not the root it was given).
import { randomUUID } from 'node:crypto';
import { access, readFile, readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { detectCgroupVersion } from '../../isolators/index.js';

export type RealCgroupVersion = 'v1' | 'v2';

const CGROUP_MOUNT = '/sys/fs/cgroup';

async function whyUnusable(version: RealCgroupVersion): Promise<string | undefined> {
  if (version === 'v1') {
    for (const controller of ['memory', 'cpu', 'cpuacct', 'pids']) {
      try {
        await access(path.join(CGROUP_MOUNT, controller, 'cgroup.procs'));
      } catch {
        return `no cgroups v1 '${controller}' hierarchy`;
      }
    }
    return undefined;
  }
  // detectCgroupVersion checked the mount's root; our own cgroup must have the controllers too.
  const own = path.join(CGROUP_MOUNT, await ownV2Base());
  const available = (await readFile(path.join(own, 'cgroup.controllers'), 'utf8')).split(/\s+/);
  const missing = ['memory', 'cpu', 'pids'].filter((c) => !available.includes(c));
  return missing.length > 0 ? `cgroup v2 controllers ${missing.join(', ')} not delegated to ${own}` : undefined;
}

/**
 * The cgroup version to test against. Skips (printing why) when neither v1 nor v2 is usable; fails
 * instead under CI=true, and whenever TESSERA_REQUIRE_CGROUP2=1 (the v2 VM) finds no usable v2.
 */
export async function requireRealCgroups(ctx: Mocha.Context): Promise<RealCgroupVersion> {
  let reason: string | undefined;
  let version: RealCgroupVersion | undefined;
  if (process.getuid?.() !== 0) reason = 'not running as root';
  else {
    const detected = await detectCgroupVersion();
    if (detected === 'none') reason = 'neither cgroups v2 nor the v1 memory, cpu, cpuacct, pids hierarchies';
    else {
      reason = await whyUnusable(detected);
      if (reason === undefined) version = detected;
    }
  }
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
 * it into (isolators/cgroups2/hierarchy.ts): the cgroups root sits beside that leaf, not in it.
 */
export async function ownV2Base(): Promise<string> {
  const own = (await readFile('/proc/self/cgroup', 'utf8')).match(/^0::(.*)$/m)?.[1] ?? '/';
  const segments = own.split('/').filter((s) => s !== '');
  while (segments.at(-1)?.endsWith('.agent')) segments.pop();
  return path.posix.join('/', ...segments);
}

export function testCgroupsRoot(): string {
  return `tessera-agent-test-${randomUUID().slice(0, 8)}`;
}

/**
 * rmdir (never rm -r) of the root beneath this process's cgroup in every v1 hierarchy, or in v2;
 * retried until a deadline, since a container cgroup beneath it may still be on its way out. Throws
 * if one stays.
 */
export async function removeCgroupsRoot(version: RealCgroupVersion, cgroupsRoot: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await removeOnce(version, cgroupsRoot);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`cgroups left behind: ${left.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function rootDirs(version: RealCgroupVersion, cgroupsRoot: string): Promise<string[]> {
  if (version === 'v2') return [path.join(CGROUP_MOUNT, await ownV2Base(), cgroupsRoot)];
  const dirs: string[] = [];
  const own = await readFile('/proc/self/cgroup', 'utf8');
  const mounts = await readdir(CGROUP_MOUNT);
  for (const line of own.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers = '', cgroupPath = '/'] = match;
    const mount = id === '0' ? 'unified' : controllers.startsWith('name=') ? controllers.slice('name='.length) : controllers;
    if (mounts.includes(mount)) dirs.push(path.join(CGROUP_MOUNT, mount, cgroupPath, cgroupsRoot));
  }
  return dirs;
}

async function removeOnce(version: RealCgroupVersion, cgroupsRoot: string): Promise<string[]> {
  const left: string[] = [];
  for (const dir of await rootDirs(version, cgroupsRoot)) {
    await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') left.push(dir);
    });
  }
  return left;
}
