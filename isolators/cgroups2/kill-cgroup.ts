// Killing everything in a v2 cgroup (and its descendants): cgroup.kill where the kernel has it
// (5.14+), else freeze so nothing can fork, SIGKILL every pid, thaw (containerd's fallback).
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, parseFlatKeyed, pathExists, readCgroupFile } from '../cgroup-files.js';
import { waitUntil } from '../wait-until.js';

/** PIDs in `dir` and every cgroup below it; [] when `dir` is gone. */
export async function pidsInTree(dir: string): Promise<number[]> {
  let text: string;
  let entries;
  try {
    text = await readCgroupFile(dir, 'cgroup.procs');
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const pids = text
    .split('\n')
    .filter((line) => /^\d+$/.test(line.trim()))
    .map(Number);
  for (const entry of entries) {
    if (entry.isDirectory()) pids.push(...(await pidsInTree(join(dir, entry.name))));
  }
  return pids;
}

/** Whether any process is left in the cgroup or below; a vanished cgroup is empty. */
async function isPopulated(dir: string): Promise<boolean> {
  try {
    const populated = parseFlatKeyed(await readCgroupFile(dir, 'cgroup.events')).get('populated');
    if (populated !== undefined) return populated !== 0;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && !(await pathExists(dir))) return false;
  }
  return (await pidsInTree(dir)).length > 0;
}

function sigkill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if (errnoCode(err) !== 'ESRCH') throw err;
  }
}

async function frozen(dir: string): Promise<boolean> {
  return parseFlatKeyed(await readCgroupFile(dir, 'cgroup.events')).get('frozen') === 1;
}

/** SIGKILLs everything in `dir` and waits until it is empty; false if something survived the deadline. */
export async function killCgroup(dir: string, timeoutMs: number): Promise<boolean> {
  const hasKill = await pathExists(join(dir, 'cgroup.kill'));
  if (hasKill) {
    await writeFile(join(dir, 'cgroup.kill'), '1');
  } else {
    await writeFile(join(dir, 'cgroup.freeze'), '1');
    try {
      // Frozen means no fork can race the kill loop; go on anyway if freezing is slow.
      await waitUntil(() => frozen(dir).catch(() => true), { timeoutMs: Math.min(2000, timeoutMs) });
      for (const pid of await pidsInTree(dir)) sigkill(pid);
    } finally {
      await writeFile(join(dir, 'cgroup.freeze'), '0');
    }
  }
  return waitUntil(
    async () => {
      if (!(await isPopulated(dir))) return true;
      // Without cgroup.kill a process that was mid-fork may have slipped past the loop above.
      if (!hasKill) for (const pid of await pidsInTree(dir)) sigkill(pid);
      return false;
    },
    { timeoutMs },
  );
}
