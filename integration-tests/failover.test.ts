// Highly available masters on a real ZooKeeper: leader failover with tasks running, failover while
// tasks are being submitted, ZooKeeper outages (never two leaders), agents that never come back, and
// clear errors for bad or unreachable ZooKeeper URLs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { requestJson, type TaskSubmission, type TaskView } from '../common/index.js';
import { tessera } from './harness/cli.js';
import { CLI, Daemon } from './harness/daemon.js';
import { HaCluster, type TestMaster } from './harness/ha-cluster.js';
import { freePort } from './harness/ports.js';
import { waitFor } from './harness/wait.js';
import { ZooKeeperServer } from './harness/zookeeper.js';

const SESSION_TIMEOUT_MS = 2000;

function sleeper(name: string, cpus: number, mem = 16): TaskSubmission {
  return { name, resources: { cpus, mem }, command: { value: 'sleep 600' } };
}

/** Submits through any running master (a follower redirects to the leader), retrying across a failover. */
async function submitAnywhere(cluster: HaCluster, body: TaskSubmission, deadlineMs = 30_000): Promise<TaskView> {
  const until = Date.now() + deadlineMs;
  let lastError: unknown;
  while (Date.now() < until) {
    for (const master of cluster.masters.filter((m) => m.running)) {
      try {
        return await requestJson<TaskView>(`${master.url}/api/v1/tasks`, { body, timeoutMs: 5000 });
      } catch (err) {
        lastError = err;
      }
    }
    await delay(100);
  }
  throw new Error(`no master took the submission: ${String(lastError)}`);
}

/** Polls every master's `master/elected` until stopped; remembers any moment two led at once. */
function watchForTwoLeaders(cluster: HaCluster): { stop: () => Promise<string[]> } {
  const overlaps: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const elected = await cluster.electedMasters();
      if (elected.length > 1) overlaps.push(`${new Date().toISOString()}: ${elected.map((m) => m.name).join(' + ')}`);
      await delay(50);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return overlaps;
    },
  };
}

describe('highly available masters (real ZooKeeper)', function () {
  this.timeout(120_000);

  before(async function () {
    const available = await ZooKeeperServer.available();
    if (!available.ok) {
      if (process.env.CI === 'true') throw new Error(`ZooKeeper is required in CI: ${available.reason}`);
      console.log(`      skipped: ${available.reason}`);
      this.skip();
    }
  });

  describe('leader failover with tasks running', () => {
    let cluster: HaCluster;
    before(async () => {
      cluster = await HaCluster.start({ masters: 3, agents: 2, agentArgs: ['--resources', 'cpus:1;mem:512'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('a new leader takes over within the session timeout + 2 s, and every task keeps running, once', async () => {
      // 0.4 CPU each on 1-CPU agents: first fit puts two on each agent.
      const submitted: TaskView[] = [];
      for (let i = 0; i < 4; i++) submitted.push(await cluster.submit(sleeper(`sleeper${i}`, 0.4)));
      for (const view of submitted) await cluster.waitForState(view.task_id, ['TASK_RUNNING']);
      const before = await cluster.agentTasks();
      const perAgent = await Promise.all(
        cluster.agents.map(async (a) => (await requestJson<{ tasks: unknown[] }>(`${a.url}/state`)).tasks.length),
      );
      assert.deepEqual(perAgent, [2, 2], 'tasks run on both agents');

      const oldLeader = await cluster.waitForLeader();
      const killedAt = Date.now();
      await oldLeader.daemon?.crash();
      const newLeader = await cluster.waitForLeader(SESSION_TIMEOUT_MS + 10_000, oldLeader);
      const electedAfterMs = Date.now() - killedAt;
      assert.ok(electedAfterMs <= SESSION_TIMEOUT_MS + 2000, `new leader after ${electedAfterMs} ms (limit ${SESSION_TIMEOUT_MS + 2000})`);

      const state = await cluster.waitForAgents(2);
      assert.equal(state.slaves.length, 2);
      await waitFor('every task running on the new leader', async () => {
        const { tasks } = await requestJson<{ tasks: TaskView[] }>(`${newLeader.url}/api/v1/tasks`);
        const running = tasks.filter((t) => t.state === 'TASK_RUNNING').map((t) => t.task_id);
        return submitted.every((v) => running.includes(v.task_id)) ? true : undefined;
      });
      const masterState = await requestJson<{ frameworks: Array<{ tasks: Array<{ id: string; state: string }> }> }>(
        `${newLeader.url}/master/state`,
      );
      const listed = masterState.frameworks.flatMap((f) => f.tasks);
      for (const view of submitted) {
        assert.equal(listed.find((t) => t.id === view.task_id)?.state, 'TASK_RUNNING', `${view.task_id} in /master/state`);
      }

      const after = await cluster.agentTasks();
      assert.deepEqual(after, before, 'the same tasks on the same agents: nothing was launched again');
      for (const [taskId, states] of after) assert.deepEqual(states, ['TASK_RUNNING'], `${taskId} runs exactly once`);

      const ps = await tessera(['ps', '--master', cluster.zkUrl, '--json']);
      assert.equal(ps.code, 0, ps.stderr);
      const listedByCli = (JSON.parse(ps.stdout) as { tasks: TaskView[] }).tasks;
      for (const view of submitted) {
        assert.equal(listedByCli.find((t) => t.task_id === view.task_id)?.state, 'TASK_RUNNING', 'the CLI follows the new leader');
      }
    });

    it('a follower answers API calls with 307 to the leader and names it in /master/state', async () => {
      const leader = await cluster.waitForLeader();
      const follower = cluster.masters.find((m) => m.running && m !== leader)!;
      const response = await fetch(`${follower.url}/api/v1/tasks`, { redirect: 'manual' });
      assert.equal(response.status, 307);
      assert.equal(response.headers.get('location'), `//127.0.0.1:${leader.port}/api/v1/tasks`);
      const state = await requestJson<{ leader?: string; pid: string }>(`${follower.url}/master/state`);
      assert.equal(state.leader, `master@127.0.0.1:${leader.port}`);
      assert.notEqual(state.pid, state.leader);
      const snapshot = await requestJson<Record<string, number>>(`${follower.url}/metrics/snapshot`);
      assert.equal(snapshot['master/elected'], 0);
      const leaderSnapshot = await requestJson<Record<string, number>>(`${leader.url}/metrics/snapshot`);
      assert.equal(leaderSnapshot['master/elected'], 1);
      assert.equal(leaderSnapshot['master/slaves_active'], 2);
      assert.ok((leaderSnapshot['master/uptime_secs'] ?? -1) >= 0);
    });

    it('a task that ends while no master leads is reported to the next leader', async () => {
      const short = await cluster.submit({ name: 'ends-in-the-gap', resources: { cpus: 0.1, mem: 16 }, command: { value: 'sleep 1' } });
      await cluster.waitForState(short.task_id, ['TASK_RUNNING']);
      const oldLeader = await cluster.waitForLeader();
      await oldLeader.daemon?.crash(); // the task finishes before a successor is elected
      const newLeader = await cluster.waitForLeader(20_000, oldLeader);
      const view = await waitFor('the finished task on the new leader', async () => {
        const current = await requestJson<TaskView>(`${newLeader.url}/api/v1/tasks/${short.task_id}`).catch(() => undefined);
        return current?.state === 'TASK_FINISHED' ? current : undefined;
      });
      assert.notEqual(view.statuses.at(-1)?.source, 'SOURCE_MASTER', 'the agent resent its unacknowledged update');
    });
  });

  it('kill the leader while tasks are submitted: every acknowledged submission runs exactly once', async () => {
    const cluster = await HaCluster.start({ masters: 3, agents: 2, agentArgs: ['--resources', 'cpus:2;mem:2048'] });
    try {
      const acknowledged: string[] = [];
      const oldLeader = await cluster.waitForLeader();
      let killed = false;
      for (let i = 0; i < 24; i++) {
        if (i === 8) {
          // No await: the crash lands while the next submissions are in flight.
          void oldLeader.daemon?.crash();
          killed = true;
        }
        const view = await submitAnywhere(cluster, sleeper(`burst${i}`, 0.01, 8));
        acknowledged.push(view.task_id);
      }
      assert.ok(killed);
      await cluster.waitForLeader(20_000, oldLeader);
      await cluster.waitForAgents(2);
      await waitFor('every acknowledged task running once on an agent', async () => {
        const onAgents = await cluster.agentTasks();
        return acknowledged.every((id) => onAgents.get(id)?.length === 1 && onAgents.get(id)?.[0] === 'TASK_RUNNING') ? onAgents : undefined;
      }, 30_000);
      const onAgents = await cluster.agentTasks();
      for (const id of acknowledged) assert.deepEqual(onAgents.get(id), ['TASK_RUNNING'], `${id} runs exactly once`);
      for (const id of acknowledged) assert.equal((await cluster.task(id)).state, 'TASK_RUNNING');
    } finally {
      await cluster.stop();
    }
  });

  it('ZooKeeper down longer than the session timeout: the leader steps down, never two leaders, one again after', async () => {
    const cluster = await HaCluster.start({ masters: 3, agents: 1 });
    try {
      const task = await cluster.submit(sleeper('outlives-zk', 0.1));
      await cluster.waitForState(task.task_id, ['TASK_RUNNING']);
      const watcher = watchForTwoLeaders(cluster);
      await cluster.zk.stop();
      const stoppedAt = Date.now();
      await waitFor('no master leading', async () => ((await cluster.electedMasters()).length === 0 ? true : undefined), SESSION_TIMEOUT_MS + 5000);
      const steppedDownMs = Date.now() - stoppedAt;
      await delay(Math.max(0, SESSION_TIMEOUT_MS * 2 - (Date.now() - stoppedAt))); // well past the timeout
      assert.deepEqual(await cluster.electedMasters(), [], 'nobody leads while ZooKeeper is away');
      await cluster.zk.restart();
      const leader: TestMaster = await cluster.waitForLeader(30_000);
      await cluster.waitForAgents(1, 30_000);
      assert.equal((await cluster.task(task.task_id)).state, 'TASK_RUNNING', 'the task survived the outage');
      await delay(1000); // watch a little longer after the new election
      const overlaps = await watcher.stop();
      assert.deepEqual(overlaps, [], 'two masters never led at once');
      assert.ok(steppedDownMs <= SESSION_TIMEOUT_MS + 3000, `stepped down after ${steppedDownMs} ms`);
      assert.ok(leader.running);
    } finally {
      await cluster.stop();
    }
  });

  it('an agent that stays away past the re-registration timeout is removed and its tasks reported lost', async () => {
    const cluster = await HaCluster.start({
      masters: 2,
      agents: 2,
      agentReregisterTimeout: '3s',
      agentArgs: ['--resources', 'cpus:1;mem:512'],
    });
    try {
      const first = await cluster.submit(sleeper('stays', 0.6));
      const second = await cluster.submit(sleeper('goes', 0.6));
      const running = [await cluster.waitForState(first.task_id, ['TASK_RUNNING']), await cluster.waitForState(second.task_id, ['TASK_RUNNING'])];
      const awayAgent = cluster.agents.find((a) => a.port === running[1]?.agent?.port)!;
      assert.ok(awayAgent, 'the second task runs on the other agent');
      await awayAgent.daemon?.crash(); // its task keeps running, orphaned, until the agent returns
      const oldLeader = await cluster.waitForLeader();
      await oldLeader.daemon?.crash();
      const newLeader = await cluster.waitForLeader(20_000, oldLeader);

      const lost = await waitFor('the away agent’s task reported lost', async () => {
        const view = await requestJson<TaskView>(`${newLeader.url}/api/v1/tasks/${second.task_id}`).catch(() => undefined);
        return view?.state === 'TASK_LOST' ? view : undefined;
      }, 20_000);
      assert.equal(lost.reason, 'REASON_AGENT_REMOVED');
      assert.equal((await cluster.task(first.task_id)).state, 'TASK_RUNNING', 'the agent that came back keeps its task');
      const state = await cluster.state();
      assert.deepEqual(
        state.slaves.map((s) => s.id).includes(running[1]!.agent_id!),
        false,
        'the removed agent is gone from /master/state',
      );

      // When it returns, the task the cluster gave up on is killed, not adopted.
      await awayAgent.start();
      await waitFor('the returning agent kills the lost task', async () => {
        const agentState = await requestJson<{ tasks: Array<{ id: string }>; completed_tasks: Array<{ id: string; state: string }> }>(
          `${awayAgent.url}/state`,
        );
        return agentState.completed_tasks.some((t) => t.id === second.task_id && t.state === 'TASK_KILLED') ? true : undefined;
      }, 30_000);
      assert.equal((await cluster.task(second.task_id)).state, 'TASK_LOST', 'the master keeps the verdict it reported');
    } finally {
      await cluster.stop();
    }
  });

  describe('bad ZooKeeper URLs, unreachable ZooKeeper, wrong credentials', () => {
    let zk: ZooKeeperServer;
    let dir: string;
    before(async () => {
      zk = await ZooKeeperServer.start();
      dir = await mkdtemp(join(tmpdir(), 'tessera-zk-errors-'));
    });
    after(async () => {
      await zk?.destroy();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('tessera up --zk runs a master that joins the election and prints its role, and an agent that follows it', async () => {
      const child = spawn(
        process.execPath,
        [CLI, 'up', '--zk', zk.url('/up'), '--port', '0', '--agent-port', '0', '--work-dir', join(dir, 'up'), '--isolation', 'posix',
          '--docker', 'off', '--zk-session-timeout', '2s'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        await waitFor('tessera up to be up', () => (/tessera is up\n/.test(output) ? true : undefined), 30_000);
        assert.match(output, /master: contending for leadership in ZooKeeper zk:\/\/127\.0\.0\.1:\d+\/up/);
        assert.match(output, /master: elected leader/);
        assert.match(output, /master: leading/);
        assert.match(output, /\(leading; ZooKeeper zk:\/\/127\.0\.0\.1:\d+\/up\)/);
      } finally {
        child.kill('SIGTERM');
        assert.equal(await exited, 0, output);
      }
    });

    it('a malformed zk:// URL is a usage error naming the problem (exit 2)', async () => {
      for (const args of [
        ['master', '--zk', 'zk://', '--port', '0'],
        ['master', '--zk', 'zk://127.0.0.1:2181', '--port', '0'],
        ['master', '--zk', 'zk://127.0.0.1:99999/tessera', '--port', '0'],
        ['ps', '--master', 'zk://127.0.0.1:2181'],
        ['agent', '--master', 'zk:///tessera', '--port', '0'],
      ]) {
        const result = await tessera(args, 15_000);
        assert.equal(result.code, 2, `${args.join(' ')} → ${result.code}: ${result.stderr}`);
        assert.match(result.stderr, /zk:\/\/|ZooKeeper|path|host|port/i, result.stderr);
      }
    });

    it('unreachable ZooKeeper: master, agent and CLI fail with a clear message, not a hang', async () => {
      const closed = `zk://127.0.0.1:${await freePort()}/tessera`;
      for (const args of [
        ['master', '--zk', closed, '--host', '127.0.0.1', '--port', '0', '--work-dir', join(dir, 'unreachable')],
        ['ps', '--master', closed],
      ]) {
        const started = Date.now();
        const result = await tessera(args, 40_000);
        assert.notEqual(result.code, 0, `${args[0]} must fail`);
        assert.ok(Date.now() - started < 30_000, `${args[0]} gave up in time`);
        assert.match(result.stderr, /reach ZooKeeper|ZooKeeper.*unreachable|cannot (connect|reach)/i, result.stderr);
      }
    });

    it('wrong credentials: a second master cannot join the election and says why', async () => {
      const good = zk.url('/secure', { user: 'alice', password: 'right' });
      const port = await freePort();
      const first = await Daemon.start(
        'secure-master',
        ['master', '--zk', good, '--host', '127.0.0.1', '--port', String(port), '--work-dir', join(dir, 'secure1')],
        `http://127.0.0.1:${port}`,
        dir,
      );
      try {
        await waitFor('the first master leads', async () => {
          const snapshot = await requestJson<Record<string, number>>(`http://127.0.0.1:${port}/metrics/snapshot`);
          return snapshot['master/elected'] === 1 ? true : undefined;
        });
        const wrong = zk.url('/secure', { user: 'alice', password: 'hunter2' });
        const result = await tessera(['master', '--zk', wrong, '--host', '127.0.0.1', '--port', '0', '--work-dir', join(dir, 'secure2')], 30_000);
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /not authori[sz]ed|credentials/i, result.stderr);
        assert.doesNotMatch(result.stderr, /hunter2/, 'the password is not printed');
        // Anyone may still find the leader (Mesos tooling reads json.info_ without credentials).
        const ps = await tessera(['ps', '--master', zk.url('/secure'), '--json'], 30_000);
        assert.equal(ps.code, 0, ps.stderr);
      } finally {
        await first.stop();
      }
    });
  });
});
