// Parsing of cgroup mounts and a container's cgroup files, on a fake tree in a temp dir.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cgroupV1Mounts, readContainerCgroupStats } from './cgroup-stats.js';

describe('cgroup-stats', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'tessera-cgstats-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('maps v1 controllers to their mount points, skipping v2, named and non-root mounts', async () => {
    const mountinfo = path.join(root, 'mountinfo');
    await writeFile(
      mountinfo,
      [
        '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
        '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
        '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
        '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
        '42 31 0:36 /nested /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
      ].join('\n'),
    );
    const mounts = await cgroupV1Mounts(mountinfo);
    assert.deepEqual(Object.fromEntries(mounts), {
      cpu: '/sys/fs/cgroup/cpu,cpuacct',
      cpuacct: '/sys/fs/cgroup/cpu,cpuacct',
      memory: '/sys/fs/cgroup/memory',
    });
  });

  it('reads usage from the files; undefined when the container has no cgroup', async () => {
    const mounts = new Map([
      ['cpu', path.join(root, 'cpu')],
      ['cpuacct', path.join(root, 'cpuacct')],
      ['memory', path.join(root, 'memory')],
      ['pids', path.join(root, 'pids')],
    ]);
    const files: Record<string, string> = {
      'cpu/p/id/cpu.cfs_quota_us': '50000\n',
      'cpu/p/id/cpu.cfs_period_us': '100000\n',
      'cpu/p/id/cpu.stat': 'nr_periods 10\nnr_throttled 4\nthrottled_time 2000000000\n',
      'cpuacct/p/id/cpuacct.usage': '4000000000\n',
      'cpuacct/p/id/cpuacct.usage_user': '3000000000\n',
      'cpuacct/p/id/cpuacct.usage_sys': '1000000000\n',
      'memory/p/id/memory.limit_in_bytes': '67108864\n',
      'memory/p/id/memory.usage_in_bytes': '1000\n',
      'memory/p/id/memory.max_usage_in_bytes': '2000\n',
      'memory/p/id/memory.stat': 'cache 5\nrss 700\ntotal_rss 800\n',
      'memory/p/id/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
      'pids/p/id/pids.current': '3\n',
    };
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await writeFile(path.join(root, rel), text);
    }
    assert.deepEqual(await readContainerCgroupStats(mounts, '/p', 'id', 5000), {
      timestamp: 5,
      cpus_limit: 0.5,
      cpus_user_time_secs: 3,
      cpus_system_time_secs: 1,
      cpus_nr_periods: 10,
      cpus_nr_throttled: 4,
      cpus_throttled_time_secs: 2,
      mem_limit_bytes: 67108864,
      mem_total_bytes: 1000,
      mem_max_bytes: 2000,
      mem_rss_bytes: 800,
      mem_oom_kills: 2,
      processes: 3,
    });
    assert.equal(await readContainerCgroupStats(mounts, '/p', 'other', 5000), undefined);
  });
});
