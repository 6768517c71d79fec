// Removes what a test cluster left behind: processes in its cgroups, the cgroups, its containers.
import { readFile, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from './wait.js';

interface Hierarchy {
  mount: string;
  /** This process's own path in it. */
  ownPath: string;
}

async function hierarchies(): Promise<Hierarchy[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const own = await readFile('/proc/self/cgroup', 'utf8');
  const result: Hierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fsType = right.split(' ')[0];
    const mount = left.split(' ')[4];
    if (!mount || (fsType !== 'cgroup' && fsType !== 'cgroup2')) continue;
    const superOptions = right.split(' ')[2] ?? '';
    const controllers = fsType === 'cgroup2' ? '' : superOptions.split(',').filter((o) => o !== 'rw' && o !== 'ro').join(',');
    const entry = own
      .split('\n')
      .map((l) => /^\d+:([^:]*):(.*)$/.exec(l))
      .find((m) => m && (fsType === 'cgroup2' ? m[1] === '' : m[1] !== '' && controllers.split(',').some((c) => m[1]?.split(',').includes(c))));
    if (entry?.[2] !== undefined) result.push({ mount, ownPath: entry[2] });
  }
  return result;
}

async function removeTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) if (entry.isDirectory()) await removeTree(join(dir, entry.name));
  const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  for (const pid of procs.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(`rmdir ${dir}`, async () => {
    try {
      await rmdir(dir);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
  }, 10_000, 50);
}

/**
 * Every directory named `rootName` beneath this process's own cgroup, in every hierarchy; plus the
 * same name under the longest own path, where Docker puts container cgroups (cgroupfs driver uses one
 * CgroupParent for all hierarchies).
 */
export async function cgroupDirs(rootName: string): Promise<string[]> {
  const all = await hierarchies();
  const longest = all.map((h) => h.ownPath).reduce((a, b) => (b.length > a.length ? b : a), '/');
  const dirs = new Set<string>();
  for (const h of all) {
    dirs.add(join(h.mount, h.ownPath, rootName));
    dirs.add(join(h.mount, longest, rootName));
  }
  return [...dirs];
}

export async function removeCgroups(rootName: string): Promise<void> {
  for (const dir of await cgroupDirs(rootName)) await removeTree(dir);
}

const DOCKER_SOCKET = '/var/run/docker.sock';

/** Removes every container labelled with one of these agent ids. */
export async function removeContainers(agentIds: string[]): Promise<void> {
  if (agentIds.length === 0) return;
  const { default: Docker } = await import('dockerode');
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  try {
    await docker.ping();
  } catch {
    return;
  }
  for (const agentId of agentIds) {
    const containers = await docker.listContainers({ all: true, filters: { label: [`tessera.agent_id=${agentId}`] } });
    for (const info of containers) await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
  }
}
