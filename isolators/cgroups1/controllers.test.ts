import assert from 'node:assert/strict';
import { cpuWrites, parseCpuUsage } from './cpu.js';
import { parseCpuacctUsage } from './cpuacct.js';
import { memoryWrites, parseMemoryUsage, parseOomKills } from './memory.js';
import { parsePidsUsage, pidsWrites } from './pids.js';
import { parseFreezerState } from './freezer.js';
import { controllerWrites } from './writes.js';

describe('cgroups v1 controller mappings', () => {
  it('cpu: period 100000, quota and shares from cpus', () => {
    assert.deepEqual(cpuWrites({ cpus: 0.5, memBytes: 1 }), [
      { file: 'cpu.cfs_period_us', value: '100000' },
      { file: 'cpu.cfs_quota_us', value: '50000' },
      { file: 'cpu.shares', value: '512' },
    ]);
    assert.deepEqual(
      cpuWrites({ cpus: 2.25, memBytes: 1 }).map((w) => w.value),
      ['100000', '225000', '2304'],
    );
  });

  it('cpu: tiny shares clamp to the kernel minimums', () => {
    assert.deepEqual(
      cpuWrites({ cpus: 0.001, memBytes: 1 }).map((w) => w.value),
      ['100000', '1000', '2'],
    );
  });

  it('memory: limit only, without swap accounting', () => {
    assert.deepEqual(memoryWrites({ cpus: 1, memBytes: 64 * 2 ** 20 }, { memsw: false }), [
      { file: 'memory.limit_in_bytes', value: '67108864' },
    ]);
  });

  it('memory: memsw equal to the limit (no swap); order keeps memsw >= limit', () => {
    const limits = { cpus: 1, memBytes: 128 * 2 ** 20 };
    // Fresh cgroup (both unlimited): limit first.
    assert.deepEqual(
      memoryWrites(limits, { memsw: true }).map((w) => w.file),
      ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'],
    );
    // Raising from 64 MB: memsw first.
    assert.deepEqual(
      memoryWrites(limits, { memsw: true, currentLimitBytes: 64 * 2 ** 20 }).map((w) => w.file),
      ['memory.memsw.limit_in_bytes', 'memory.limit_in_bytes'],
    );
    // Lowering from 256 MB: limit first.
    const lowered = memoryWrites(limits, { memsw: true, currentLimitBytes: 256 * 2 ** 20 });
    assert.deepEqual(
      lowered.map((w) => w.file),
      ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'],
    );
    assert.ok(lowered.every((w) => w.value === '134217728'));
    assert.ok(!memoryWrites(limits, { memsw: true }).some((w) => w.file === 'memory.oom_control'));
  });

  it('pids: pids.max or max', () => {
    assert.deepEqual(pidsWrites({ cpus: 1, memBytes: 1, pids: 32 }), [{ file: 'pids.max', value: '32' }]);
    assert.deepEqual(pidsWrites({ cpus: 1, memBytes: 1 }), [{ file: 'pids.max', value: 'max' }]);
  });

  it('cpuacct and freezer write nothing; the dispatcher covers every controller', () => {
    const limits = { cpus: 1, memBytes: 1 };
    assert.deepEqual(controllerWrites('cpuacct', limits, { memsw: true }), []);
    assert.deepEqual(controllerWrites('freezer', limits, { memsw: true }), []);
    assert.equal(controllerWrites('memory', limits, { memsw: true }).length, 2);
    assert.equal(controllerWrites('cpu', limits, { memsw: true }).length, 3);
    assert.equal(controllerWrites('pids', limits, { memsw: true }).length, 1);
  });

  it('parses the usage files', () => {
    assert.deepEqual(
      parseCpuUsage({
        quota: '50000',
        period: '100000',
        stat: 'nr_periods 30\nnr_throttled 29\nthrottled_time 1500000000\nnr_bursts 0\n',
      }),
      { cpus_limit: 0.5, cpus_nr_periods: 30, cpus_nr_throttled: 29, cpus_throttled_time_secs: 1.5 },
    );
    assert.deepEqual(parseCpuUsage({ quota: '-1', period: '100000' }), {});
    assert.deepEqual(parseCpuacctUsage('user 150\nsystem 25\n'), {
      cpus_user_time_secs: 1.5,
      cpus_system_time_secs: 0.25,
    });
    assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n'), 3);
    assert.deepEqual(
      parseMemoryUsage({
        limit: '67108864',
        stat: 'cache 0\nrss 100\ntotal_cache 0\ntotal_rss 4096\n',
        usage: '8192',
        maxUsage: '67108864',
        oomControl: 'oom_kill_disable 0\nunder_oom 0\noom_kill 1',
      }),
      {
        mem_limit_bytes: 67108864,
        mem_rss_bytes: 4096,
        mem_total_bytes: 8192,
        mem_max_bytes: 67108864,
        mem_oom_kills: 1,
      },
    );
    // Unlimited is not a limit.
    assert.equal(parseMemoryUsage({ limit: '9223372036854771712' }).mem_limit_bytes, undefined);
    assert.deepEqual(parsePidsUsage('7\n'), { processes: 7 });
    assert.equal(parseFreezerState('FREEZING\n'), 'FREEZING');
    assert.equal(parseFreezerState('bogus'), undefined);
  });
});
