// Baselines measured in the same run as Tessera: what the same work costs without Tessera.
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A bare shell script doing, N times, what the command executor does per task on cgroups v1: make
 * the task's cgroup in each hierarchy, write the limits, put the task in, exec a no-op, remove the
 * cgroups. Prints one duration (ns) per iteration.
 */
export async function bareCgroupLaunches(n: number, rootName: string): Promise<number[]> {
  const own = await readFile('/proc/self/cgroup', 'utf8');
  const pathOf = (controller: string) =>
    own.split('\n').map((l) => l.split(':')).find((p) => p[1]?.split(',').includes(controller))?.[2] ?? '/';
  const dirs = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'].map((c) => `/sys/fs/cgroup/${c}${pathOf(c)}/${rootName}`.replace(/\/+/g, '/'));
  const [memory, cpu, cpuacct, pids, freezer] = dirs;
  const script = `
set -e
for d in ${dirs.join(' ')}; do mkdir -p "$d"; done
for i in $(seq 1 ${n}); do
  start=$(date +%s%N)
  for d in ${dirs.join(' ')}; do mkdir "$d/c$i"; done
  echo 67108864 > ${memory}/c$i/memory.limit_in_bytes
  echo 100000 > ${cpu}/c$i/cpu.cfs_period_us
  echo 10000 > ${cpu}/c$i/cpu.cfs_quota_us
  echo 102 > ${cpu}/c$i/cpu.shares
  echo 1024 > ${pids}/c$i/pids.max
  sh -c 'for d in "$@"; do echo $$ > "$d/cgroup.procs"; done; exec true' sh ${dirs.map((d) => `${d}/c$i`).join(' ')}
  for d in ${dirs.join(' ')}; do rmdir "$d/c$i"; done
  end=$(date +%s%N)
  echo $((end - start))
done
for d in ${dirs.join(' ')}; do rmdir "$d"; done
`;
  void cpuacct;
  void freezer;
  const { stdout } = await run('bash', ['-c', script], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim().split('\n').map((ns) => Number(ns) / 1e6);
}

/**
 * `docker run --rm` of IMAGE's `true` with the limits a Tessera docker task gets (memory without swap,
 * a CPU quota), N times, each timed from spawn to exit.
 */
export async function dockerRunRm(n: number, image: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn('docker', ['run', '--rm', '--memory', '64m', '--memory-swap', '64m', '--cpus', '0.1', image, 'true'], { stdio: 'ignore' });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker run exited ${code}`))));
    });
    samples.push(performance.now() - started);
  }
  return samples;
}
