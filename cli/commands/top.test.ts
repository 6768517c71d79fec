import assert from 'node:assert/strict';
import type { TaskStatisticsEntry } from '../../common/index.js';
import { FakeServer, runCli } from '../testing/fake-http.js';
import { CpuRates, formatTop, type AgentSample } from './top.js';

function entry(taskId: string, cpuSecs: number, timestamp: number): TaskStatisticsEntry {
  return {
    framework_id: 'tessera-tasks',
    executor_id: taskId,
    executor_name: taskId,
    source: 'tessera',
    task_id: taskId,
    container_id: `c-${taskId}`,
    statistics: {
      timestamp,
      cpus_limit: 0.5,
      cpus_user_time_secs: cpuSecs * 0.75,
      cpus_system_time_secs: cpuSecs * 0.25,
      cpus_nr_periods: 100,
      cpus_nr_throttled: 40,
      mem_limit_bytes: 64 * 1024 * 1024,
      mem_rss_bytes: 10 * 1024 * 1024,
      mem_oom_kills: 1,
      processes: 3,
    },
  };
}

function sampleOf(...entries: TaskStatisticsEntry[]): AgentSample[] {
  return [{ agentId: 'a1', hostname: 'node-1', address: '127.0.0.1:5051', entries }];
}

describe('tessera top', () => {
  it('computes CPU% from the change in cpu time over the change in timestamps; none on the first sample', () => {
    const rates = new CpuRates();
    const first = rates.update(sampleOf(entry('t1', 10, 100)));
    assert.equal(first.size, 0);
    const second = rates.update(sampleOf(entry('t1', 11, 102), entry('t2', 5, 102)));
    assert.equal(second.get('a1/t1/c-t1'), 0.5);
    assert.equal(second.has('a1/t2/c-t2'), false);
    const text = formatTop(sampleOf(entry('t1', 11, 102), entry('t2', 5, 102)), second);
    assert.match(text, /^TASK\s+AGENT\s+CPU%\s+CPU LIMIT\s+MEM \/ LIMIT\s+OOM\s+THROTTLED\s+PIDS$/m);
    assert.match(text, /^t1\s+node-1\s+50\.0%\s+0\.5\s+10M \/ 64M\s+1\s+40\/100\s+3$/m);
    assert.match(text, /^t2\s+node-1\s+-\s+0\.5/m);
  });

  it('--once samples twice from the agents the master lists', async () => {
    const master = await FakeServer.start();
    const agent = await FakeServer.start();
    try {
      master.on('GET', '/master/state', () => ({
        status: 200,
        body: {
          id: 'm1',
          slaves: [
            { id: 'a1', pid: `slave(1)@127.0.0.1:${agent.port}`, hostname: 'node-1', resources: { cpus: 2, mem: 1024 }, active: true },
            { id: 'a2', pid: 'slave(1)@127.0.0.1:9', hostname: 'gone', resources: { cpus: 2, mem: 1024 }, active: false },
          ],
        },
      }));
      let calls = 0;
      agent.on('GET', '/monitor/statistics', () => {
        calls += 1;
        return { status: 200, body: [entry('t1', calls * 0.25, 1000 + calls)] }; // 0.25 CPU
      });
      const result = await runCli(['top', '--once', '--interval', '200ms', '--master', master.hostPort]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^t1\s+node-1\s+25\.0%\s+0\.5\s+10M \/ 64M/m);
      assert.doesNotMatch(result.stdout, /gone/);
      const json = await runCli(['top', '--once', '--json', '--master', master.hostPort]);
      const samples = JSON.parse(json.stdout) as AgentSample[];
      assert.equal(samples[0]?.entries[0]?.task_id, 't1');
    } finally {
      await master.stop();
      await agent.stop();
    }
  });
});
