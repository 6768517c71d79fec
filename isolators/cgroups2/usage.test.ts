import assert from 'node:assert/strict';
import { cgroupsRootSegments, ownV2Path, parseCgroup2Mount, pathBelowMount } from './hierarchy.js';
import { parseCpuMax, parseUsage } from './usage.js';

describe('cgroups2 usage parsing', () => {
  it('maps v2 stat files to Mesos ResourceStatistics', () => {
    const stats = parseUsage(
      {
        'cpu.max': '50000 100000',
        'cpu.stat':
          'usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\nnr_periods 40\nnr_throttled 12\nthrottled_usec 750000\n',
        'memory.max': '67108864',
        'memory.current': '1048576',
        'memory.peak': '67100000',
        'memory.stat': 'anon 524288\nfile 4096\nkernel 8192\n',
        'memory.events': 'low 0\nhigh 0\nmax 31\noom 1\noom_kill 1\noom_group_kill 1\n',
        'pids.current': '3',
      },
      1700000000.5,
    );
    assert.deepEqual(stats, {
      timestamp: 1700000000.5,
      cpus_limit: 0.5,
      cpus_user_time_secs: 2.5,
      cpus_system_time_secs: 1,
      cpus_nr_periods: 40,
      cpus_nr_throttled: 12,
      cpus_throttled_time_secs: 0.75,
      mem_limit_bytes: 67108864,
      mem_total_bytes: 1048576,
      mem_max_bytes: 67100000,
      mem_rss_bytes: 524288,
      mem_oom_kills: 1,
      processes: 3,
    });
  });

  it('leaves out what is unlimited or missing', () => {
    const stats = parseUsage({ 'cpu.max': 'max 100000', 'memory.max': 'max', 'cpu.stat': 'usage_usec 5\n' }, 1);
    assert.deepEqual(stats, { timestamp: 1 });
    assert.equal(parseCpuMax('150000 100000'), 1.5);
    assert.equal(parseCpuMax('garbage'), undefined);
  });
});

describe('cgroups2 hierarchy helpers', () => {
  it('finds the cgroup2 mount in mountinfo, hybrid or unified', () => {
    const hybrid = [
      '25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
      '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
      '27 25 0:24 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory',
    ].join('\n');
    assert.deepEqual(parseCgroup2Mount(hybrid), { mountPoint: '/sys/fs/cgroup/unified', root: '/' });
    const ns = '40 30 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw';
    assert.deepEqual(parseCgroup2Mount(ns), { mountPoint: '/sys/fs/cgroup', root: '/kubepods/pod1' });
    assert.equal(parseCgroup2Mount('27 25 0:24 / /x rw - cgroup cgroup rw,memory'), undefined);
  });

  it("reads this process's v2 path and makes it relative to the mount root", () => {
    assert.equal(ownV2Path('4:memory:/process_api/abc\n1:cpu:/\n0::/user.slice/agent.service\n'), '/user.slice/agent.service');
    assert.equal(ownV2Path('4:memory:/x\n'), undefined);
    assert.equal(pathBelowMount('/kubepods/pod1/c', '/kubepods/pod1'), '/c');
    assert.equal(pathBelowMount('/kubepods/pod1', '/kubepods/pod1'), '/');
    assert.equal(pathBelowMount('/a', '/'), '/a');
  });

  it('accepts relative cgroup roots and refuses ones that could escape', () => {
    assert.deepEqual(cgroupsRootSegments('tessera'), ['tessera']);
    assert.deepEqual(cgroupsRootSegments('/tessera/agents/'), ['tessera', 'agents']);
    for (const bad of ['', '/', '../x', 'a/../../b']) assert.throws(() => cgroupsRootSegments(bad), /invalid cgroups root/);
  });
});
