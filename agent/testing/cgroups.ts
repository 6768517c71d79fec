// Real-cgroups test helpers: skip (or fail under CI) without cgroups v1, and remove a test's cgroups
// root afterwards (the isolator removes container cgroups, not the root it was given).
import { randomUUID } from 'node:crypto';
import { access, readFile, readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';

export async function requireCgroupsV1(ctx: Mocha.Context): Promise<void> {
  let reason: string | undefined;
  if (process.getuid?.() !== 0) reason = 'not running as root';
  else {
    for (const controller of ['memory', 'cpu', 'cpuacct', 'pids']) {
      try {
        await access(path.join('/sys/fs/cgroup', controller, 'cgroup.procs'));
      } catch {
        reason = `no cgroups v1 '${controller}' hierarchy`;
        break;
      }
    }
  }
  if (reason === undefined) return;
  if (process.env.CI === 'true') throw new Error(`cgroups v1 required in CI: ${reason}`);
  console.log(`      skipped: ${reason}`);
  ctx.skip();
}

export function testCgroupsRoot(): string {
  return `tessera-agent-test-${randomUUID().slice(0, 8)}`;
}

/**
 * rmdir (never rm -r) of the root beneath this process's cgroup in every hierarchy; retried until a
 * deadline, since a container cgroup beneath it may still be on its way out. Throws if one stays.
 */
export async function removeCgroupsRoot(cgroupsRoot: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await removeOnce(cgroupsRoot);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`cgroups left behind: ${left.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function removeOnce(cgroupsRoot: string): Promise<string[]> {
  const left: string[] = [];
  const own = await readFile('/proc/self/cgroup', 'utf8');
  const mounts = await readdir('/sys/fs/cgroup');
  for (const line of own.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers = '', cgroupPath = '/'] = match;
    const mount = id === '0' ? 'unified' : controllers.startsWith('name=') ? controllers.slice('name='.length) : controllers;
    if (!mounts.includes(mount)) continue;
    const dir = path.join('/sys/fs/cgroup', mount, cgroupPath, cgroupsRoot);
    await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') left.push(dir);
    });
  }
  return left;
}
