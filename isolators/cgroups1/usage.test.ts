import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCgroups1Usage } from './usage.js';

describe('readCgroups1Usage (files in a temp directory)', () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-usage-'));
    const files: Record<string, Record<string, string>> = {
      cpu: {
        'cpu.cfs_quota_us': '150000\n',
        'cpu.cfs_period_us': '100000\n',
        'cpu.stat': 'nr_periods 40\nnr_throttled 12\nthrottled_time 250000000\nnr_bursts 0\nburst_time 0\n',
      },
      cpuacct: { 'cpuacct.stat': 'user 321\nsystem 45\n' },
      memory: {
        'memory.limit_in_bytes': '134217728\n',
        'memory.stat': 'cache 12\nrss 34\ntotal_cache 1000\ntotal_rss 2000\n',
        'memory.usage_in_bytes': '3000\n',
        'memory.max_usage_in_bytes': '5000\n',
        'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
      },
      pids: { 'pids.current': '5\n' },
    };
    for (const [controller, entries] of Object.entries(files)) {
      await mkdir(join(root, controller));
      for (const [file, text] of Object.entries(entries)) await writeFile(join(root, controller, file), text);
    }
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads every statistic', async () => {
    const usage = await readCgroups1Usage(
      { cpu: join(root, 'cpu'), cpuacct: join(root, 'cpuacct'), memory: join(root, 'memory'), pids: join(root, 'pids') },
      () => 1_700_000_000_500,
    );
    assert.deepEqual(usage, {
      timestamp: 1_700_000_000.5,
      cpus_limit: 1.5,
      cpus_nr_periods: 40,
      cpus_nr_throttled: 12,
      cpus_throttled_time_secs: 0.25,
      cpus_user_time_secs: 3.21,
      cpus_system_time_secs: 0.45,
      mem_limit_bytes: 134217728,
      mem_rss_bytes: 2000,
      mem_total_bytes: 3000,
      mem_max_bytes: 5000,
      mem_oom_kills: 2,
      processes: 5,
    });
  });

  it('leaves out what cannot be read', async () => {
    const usage = await readCgroups1Usage({ pids: join(root, 'pids'), memory: join(root, 'missing') });
    assert.deepEqual(Object.keys(usage).sort(), ['processes', 'timestamp']);
  });
});
