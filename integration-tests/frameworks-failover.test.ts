// Failover of the services and jobs frameworks, end to end: a real ZooKeeper, 3 masters and 2 agents
// (HaCluster), framework instances as real `tessera framework …` processes electing a leader in
// ZooKeeper. SIGKILLs the leading framework instance (and, for services, the leading master too) in the
// middle of work and checks what the takeover must preserve: a rolling upgrade never exceeds its
// over-capacity and completes; a periodic job runs every scheduled time exactly once; a webhook being
// retried is delivered by the new jobs leader with the same delivery id. Last, the services
// framework runs the jobs framework as one of its apps, which subscribes and runs a job, and a second
// services framework (its own ZooKeeper path), through which an app is created and runs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createServer } from 'node:http';
import { closeHttpServer, isTerminal, listenHttp, requestJson, type TaskState } from '../common/index.js';
import { TestAgent } from './harness/cluster.js';
import { CLI, Daemon } from './harness/daemon.js';
import { HaCluster } from './harness/ha-cluster.js';
import { freePort } from './harness/ports.js';
import { waitFor } from './harness/wait.js';
import { ZooKeeperServer } from './harness/zookeeper.js';

/** --zk-session-timeout of the framework instances: how fast a SIGKILLed leader's znode goes. */
const FW_SESSION_TIMEOUT = '2s';

interface TaskJson {
  id: string;
  host: string;
  ports: number[];
  state: string;
  version: string;
  killing?: unknown;
  healthCheckResults: Array<{ alive: boolean }>;
}

interface AppJson {
  id: string;
  instances: number;
  version: string;
  deployments: Array<{ id: string }>;
  tasks: TaskJson[];
}

interface ServicesInfo {
  elected: boolean;
  leader: string | null;
  frameworkId: string | null;
}

interface JobView {
  name: string;
  successCount: number;
  errorCount: number;
  running: boolean;
}

interface StatRun {
  taskId: string;
  runId: string;
  status: 'success' | 'fail' | 'skipped';
  attempts: number;
  scheduledFor: string;
  startTime: string;
  message: string;
}

interface FrameworkDaemon {
  daemon: Daemon;
  url: string;
  /** 'host:port' as the instance advertises itself. */
  address: string;
}

const healthy = (t: TaskJson): boolean => t.state === 'TASK_RUNNING' && !t.killing && t.healthCheckResults.every((h) => h.alive);

/** An ISO 8601 instant `ms` from now, whole seconds. */
const startIn = (ms: number): string => new Date(Math.ceil((Date.now() + ms) / 1000) * 1000).toISOString();

/**
 * Polls every agent's /state every 100 ms and remembers the most non-terminal tasks whose id starts
 * with `prefix` seen at once (summed over the agents), with the sample that showed it.
 */
function watchAgentTasks(cluster: HaCluster, prefix: string): { stop: () => Promise<{ max: number; maxRunning: number; worst: string; timeline: string[] }> } {
  let running = true;
  const timeline: string[] = [];
  let previous = '';
  let max = 0;
  let maxRunning = 0;
  let worst = '';
  const loop = (async () => {
    while (running) {
      const sample: Array<{ id: string; state: TaskState }> = [];
      await Promise.all(
        cluster.agents.map(async (agent) => {
          if (!agent.daemon?.running) return;
          const state = await requestJson<{ tasks: Array<{ id: string; state: TaskState }> }>(`${agent.url}/state`, { timeoutMs: 2000 }).catch(
            () => undefined,
          );
          for (const t of state?.tasks ?? []) if (t.id.startsWith(prefix) && !isTerminal(t.state)) sample.push({ id: t.id, state: t.state });
        }),
      );
      const line = sample.map((s) => `${s.id.slice(0, 12)}=${s.state.replace('TASK_', '')}`).sort().join(' ');
      if (line !== previous) timeline.push(`${new Date().toISOString()} [${sample.length}] ${line}`);
      previous = line;
      if (sample.length > max) {
        max = sample.length;
        worst = `${new Date().toISOString()}: ${sample.map((s) => `${s.id}=${s.state}`).join(', ')}`;
      }
      maxRunning = Math.max(maxRunning, sample.filter((s) => s.state === 'TASK_RUNNING').length);
      await delay(100);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { max, maxRunning, worst, timeline };
    },
  };
}

/** The non-terminal tasks with this id prefix on the running agents. */
async function liveAgentTasks(cluster: HaCluster, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (const agent of cluster.agents) {
    if (!agent.daemon?.running) continue;
    const state = await requestJson<{ tasks: Array<{ id: string; state: TaskState }> }>(`${agent.url}/state`);
    for (const t of state.tasks) if (t.id.startsWith(prefix) && !isTerminal(t.state)) ids.push(t.id);
  }
  return ids.sort();
}

describe('frameworks failover (real ZooKeeper, 3 masters, 2 agents)', function () {
  this.timeout(180_000);
  let cluster: HaCluster;
  const frameworkDaemons: FrameworkDaemon[] = [];
  let tmp: string;

  /** Starts a framework instance as a `tessera framework services|jobs` process on a free port. */
  const startFramework = async (kind: 'services' | 'jobs', zkPath: string, name: string): Promise<FrameworkDaemon> => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const daemon = await Daemon.start(
      name,
      ['framework', kind, '--master', cluster.zkUrl, '--zk', cluster.zk.url(zkPath), '--host', '127.0.0.1', '--advertise-host', '127.0.0.1',
        '--port', String(port), '--work-dir', join(tmp, name), '--zk-session-timeout', FW_SESSION_TIMEOUT],
      url,
      cluster.baseDir,
    );
    const fw = { daemon, url, address: `127.0.0.1:${port}` };
    frameworkDaemons.push(fw);
    return fw;
  };

  const servicesInfo = (fw: FrameworkDaemon): Promise<ServicesInfo | undefined> =>
    requestJson<ServicesInfo>(`${fw.url}/v2/info`, { timeoutMs: 2000 }).catch(() => undefined);

  /** The one running services instance that leads and has subscribed (fails if two say they lead). */
  const servicesLeader = (among: FrameworkDaemon[], timeoutMs = 30_000): Promise<{ fw: FrameworkDaemon; frameworkId: string }> =>
    waitFor('one leading, subscribed services instance', async () => {
      const running = among.filter((f) => f.daemon.running);
      const infos = await Promise.all(running.map(servicesInfo));
      const elected = running.filter((_, i) => infos[i]?.elected);
      if (elected.length > 1) throw new Error(`two services instances lead: ${elected.map((f) => f.address).join(', ')}`);
      const i = running.findIndex((_, j) => infos[j]?.elected && infos[j]?.frameworkId);
      const fw = running[i];
      const frameworkId = infos[i]?.frameworkId;
      return fw && frameworkId ? { fw, frameworkId } : undefined;
    }, timeoutMs);

  before(async function () {
    this.timeout(120_000);
    const available = await ZooKeeperServer.available();
    if (!available.ok) {
      if (process.env.CI === 'true') throw new Error(`ZooKeeper is required in CI: ${available.reason}`);
      console.log(`      skipped: ${available.reason}`);
      this.skip();
    }
    tmp = await mkdtemp(join(tmpdir(), 'tessera-fw-failover-'));
    cluster = await HaCluster.start({ masters: 3, agents: 1, agentArgs: ['--resources', 'cpus:2;mem:2048;ports:[31000-31099]'] });
    // The second agent with its own port range (HaCluster gives every agent the same flags).
    const port = await freePort();
    const cgroupsRoot = `tessera-it-${randomBytes(4).toString('hex')}`;
    const workDir = join(cluster.baseDir, 'agent1');
    const agent = new TestAgent(1, port, workDir, cgroupsRoot, ['agent', '--master', cluster.zkUrl, '--host', '127.0.0.1', '--port', String(port),
      '--work-dir', workDir, '--cgroups-root', cgroupsRoot, '--isolation', 'cgroups', '--resources', 'cpus:2;mem:2048;ports:[31100-31199]'], cluster.baseDir);
    cluster.agents.push(agent);
    await agent.start();
    await cluster.waitForAgents(2);
  });

  after(async function () {
    this.timeout(90_000);
    // Frameworks first: a live services leader would relaunch what the cluster's stop kills.
    for (const fw of frameworkDaemons) await fw.daemon.stop();
    await cluster?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('services: a rolling upgrade survives SIGKILL of the services leader and the master leader', async () => {
    const instances = [await startFramework('services', '/tessera-services', 'services0'), await startFramework('services', '/tessera-services', 'services1')];
    const { fw: leader, frameworkId } = await servicesLeader(instances);
    const follower = instances.find((f) => f !== leader) as FrameworkDaemon;

    // The follower redirects API calls to the leader (307; 503 for the moment until it has read the leader
    // from ZooKeeper), and names it on /v2/leader.
    const redirect = await waitFor('a 307 from the services follower', async () => {
      const r = await fetch(`${follower.url}/v2/apps`, { redirect: 'manual' });
      return r.status === 503 ? undefined : r;
    }, 5000, 50);
    assert.equal(redirect.status, 307);
    assert.equal(redirect.headers.get('location'), `http://${leader.address}/v2/apps`);
    assert.deepEqual(await requestJson(`${follower.url}/v2/leader`), { leader: leader.address });

    // Created through the follower: requestJson follows the 307 with the body.
    await requestJson(`${follower.url}/v2/apps`, {
      body: {
        id: '/web',
        cmd: 'mkdir -p www && echo "$MARATHON_APP_ID $VERSION_TAG" > www/index.html && exec busybox httpd -f -p 127.0.0.1:$PORT0 -h www',
        cpus: 0.1,
        mem: 32,
        instances: 3,
        env: { VERSION_TAG: 'v1' },
        backoffSeconds: 0.5,
        backoffFactor: 1.5,
        maxLaunchDelaySeconds: 3,
        upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.5 },
        healthChecks: [{ protocol: 'HTTP', path: '/', gracePeriodSeconds: 15, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3 }],
      },
    });
    const app = async (base: FrameworkDaemon): Promise<AppJson> => (await requestJson<{ app: AppJson }>(`${base.url}/v2/apps/web`, { timeoutMs: 3000 })).app;
    const v1 = await waitFor('3 healthy /web tasks', async () => {
      const a = await app(leader);
      return a.deployments.length === 0 && a.tasks.filter(healthy).length === 3 ? a : undefined;
    }, 30_000);
    const oldVersions = new Set(v1.tasks.map((t) => t.version));

    // 3 × (1 + 0.5) → never more than 4 tasks of /web alive on the agents at once.
    const watch = watchAgentTasks(cluster, 'web.');
    let watchResult: { max: number; maxRunning: number; worst: string; timeline: string[] } | undefined;
    const events: string[] = [];
    try {
      await requestJson(`${leader.url}/v2/apps/web`, { method: 'PUT', body: { env: { VERSION_TAG: 'v2' } } });
      // Kill both leaders while the deployment is under way: a new-version task exists, old ones remain.
      await waitFor('the rolling upgrade to be under way', async () => {
        const a = await app(leader);
        return a.deployments.length > 0 && a.tasks.some((t) => !oldVersions.has(t.version)) && a.tasks.some((t) => oldVersions.has(t.version)) ? a : undefined;
      }, 20_000, 50);
      const masterLeader = await cluster.waitForLeader();
      const killedAt = Date.now();
      await Promise.all([leader.daemon.crash(), masterLeader.daemon?.crash()]);
      events.push(`${new Date(killedAt).toISOString()} SIGKILL services leader ${leader.address} + master leader ${masterLeader.name}`);

      // The other instance takes over: it names itself leader and re-subscribes with the same framework id.
      const takeover = await servicesLeader([follower], 30_000);
      const takeoverMs = Date.now() - killedAt;
      events.push(`${new Date().toISOString()} services instance ${takeover.fw.address} leads and subscribed`);
      assert.equal(takeover.frameworkId, frameworkId, 'the new leader re-subscribed as the same framework');
      assert.deepEqual(await requestJson(`${follower.url}/v2/leader`), { leader: follower.address });
      await cluster.waitForLeader(20_000, masterLeader);

      const done = await waitFor('the rolling upgrade to finish on the new leader', async () => {
        const a = await app(follower).catch(() => undefined);
        if (!a || a.deployments.length > 0) return undefined;
        const good = a.tasks.filter((t) => healthy(t) && !oldVersions.has(t.version));
        return good.length === 3 && a.tasks.length === 3 ? a : undefined;
      }, 60_000);
      // What runs on the agents is exactly what the framework knows: no orphan of either version.
      await waitFor('only the 3 new tasks alive on the agents', async () => {
        const live = await liveAgentTasks(cluster, 'web.');
        return JSON.stringify(live) === JSON.stringify(done.tasks.map((t) => t.id).sort()) ? live : undefined;
      }, 15_000);
      console.log(`      services takeover after ${takeoverMs} ms`);
      for (const t of done.tasks) {
        const body = await (await fetch(`http://127.0.0.1:${t.ports[0]}/`)).text();
        assert.match(body, /\/web v2/);
      }
    } finally {
      watchResult = await watch.stop();
    }
    console.log(`      max /web tasks alive at once: ${watchResult.max} (TASK_RUNNING: ${watchResult.maxRunning})`);
    if (watchResult.max > 4 || process.env.TESSERA_TEST_VERBOSE) console.log([...events, ...watchResult.timeline].sort().map((l) => `        ${l}`).join('\n'));
    assert.ok(watchResult.max <= 4, `more than instances × (1 + maximumOverCapacity) = 4 tasks alive at once: ${watchResult.worst}`);

    await requestJson(`${follower.url}/v2/apps/web?force=true`, { method: 'DELETE' });
    await waitFor('/web gone from the agents', async () => ((await liveAgentTasks(cluster, 'web.')).length === 0 ? true : undefined), 20_000);
  });

  it('jobs: a job every 2 s runs each scheduled time once across SIGKILL of the jobs leader', async () => {
    const dir = await mkdtemp(join(tmp, 'jobs-out-'));
    const file = join(dir, 'runs.log');
    const instances = [await startFramework('jobs', '/tessera-jobs', 'jobs0'), await startFramework('jobs', '/tessera-jobs', 'jobs1')];
    try {
      const jobsLeader = (among: FrameworkDaemon[], timeoutMs = 20_000): Promise<FrameworkDaemon> =>
        waitFor('one leading jobs instance that answers', async () => {
          const running = among.filter((f) => f.daemon.running);
          const health = await Promise.all(running.map((f) => requestJson<{ leading: boolean }>(`${f.url}/health`, { timeoutMs: 2000 }).catch(() => undefined)));
          const leading = running.filter((_, i) => health[i]?.leading);
          if (leading.length > 1) throw new Error(`two jobs instances lead: ${leading.map((f) => f.address).join(', ')}`);
          const fw = leading[0];
          // Leading and its engine loaded (the API answers without a redirect).
          if (!fw) return undefined;
          const r = await fetch(`${fw.url}/v1/scheduler/jobs`, { redirect: 'manual' }).catch(() => undefined);
          return r?.status === 200 ? fw : undefined;
        }, timeoutMs);
      const leader = await jobsLeader(instances);
      const follower = instances.find((f) => f !== leader) as FrameworkDaemon;
      // The follower learns the leader from ZooKeeper a moment after the election: 503 until then, then 307.
      const redirectFrom = Date.now();
      const redirect = await waitFor('a 307 from the jobs follower', async () => {
        const r = await fetch(`${follower.url}/v1/scheduler/jobs`, { redirect: 'manual' });
        if (r.status !== 503) return r;
        return undefined;
      }, 5000, 50);
      assert.equal(redirect.status, 307, `after ${Date.now() - redirectFrom} ms`);
      assert.equal(redirect.headers.get('location'), `http://${leader.address}/v1/scheduler/jobs`);

      const ticker = async (fw: FrameworkDaemon): Promise<JobView | undefined> =>
        (await requestJson<JobView[]>(`${fw.url}/v1/scheduler/jobs`, { timeoutMs: 3000 }).catch(() => [] as JobView[])).find((j) => j.name === 'ticker');
      await requestJson(`${leader.url}/v1/scheduler/iso8601`, {
        body: {
          name: 'ticker',
          // The agent gives the task its id and run (TESSERA_TASK_ID, TESSERA_JOB_RUN); the stat history maps the
          // task id to the scheduled time it ran for.
          // `sleep 1` keeps each run in flight long enough to kill the leader during one.
          command: `sleep 1; echo "$TESSERA_TASK_ID $TESSERA_JOB_RUN $TESSERA_JOB_ATTEMPT $(date +%s.%N)" >> ${file}`,
          schedule: `R/${startIn(1500)}/PT2S`,
          epsilon: 'PT10S',
          cpus: 0.1,
          mem: 32,
        },
      });
      // Killed while a run is in flight: the new leader must adopt that task (reconciliation), not run its time again.
      const before = await waitFor('3 successful runs on the first leader and a 4th in flight', async () => {
        const j = await ticker(leader);
        return j && j.successCount >= 3 && j.running ? j : undefined;
      }, 20_000, 50);
      const killedAt = Date.now();
      await leader.daemon.crash();
      const newLeader = await jobsLeader([follower], 20_000);
      const takeoverMs = Date.now() - killedAt;
      assert.equal(newLeader, follower);

      // successCount keeps growing on the new leader, never going back.
      let last = before.successCount;
      const after = await waitFor('3 more successful runs on the new leader', async () => {
        const j = await ticker(newLeader);
        if (!j) return undefined;
        assert.ok(j.successCount >= last, `successCount went back from ${last} to ${j.successCount}`);
        last = j.successCount;
        return j.successCount >= before.successCount + 3 ? j : undefined;
      }, 30_000);
      assert.equal(after.errorCount, 0);

      const stat = await requestJson<{ taskStatHistory: StatRun[] }>(`${newLeader.url}/v1/scheduler/job/stat/ticker`);
      await requestJson(`${newLeader.url}/v1/scheduler/job/ticker`, { method: 'DELETE' });
      // A run may still be appending as the job is deleted; give the last line a moment to land by waiting for no job task alive.
      await waitFor('no ticker task alive', async () => ((await liveAgentTasks(cluster, 'ticker')).length === 0 ? true : undefined), 10_000);

      const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => {
        const [taskId = '', runId = '', attempt = '', at = ''] = l.split(' ');
        return { taskId, runId, attempt: Number(attempt), at: Number(at) * 1000 };
      });
      const byTask = new Map(stat.taskStatHistory.map((r) => [r.taskId, r]));
      const scheduled = lines.map((l) => {
        const run = byTask.get(l.taskId);
        assert.ok(run, `task ${l.taskId} (line of run ${l.runId}) is in the stat history`);
        return Date.parse(run.scheduledFor);
      });
      const times = lines.map((l) => l.at).sort((a, b) => a - b);
      const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
      console.log(`      jobs takeover after ${takeoverMs} ms; ${lines.length} runs; gaps between runs (ms): ${gaps.map((g) => Math.round(g)).join(' ')}`);

      // No scheduled time ran twice (nor did one task or one run write twice).
      const dup = <T>(xs: T[]): T[] => xs.filter((x, i) => xs.indexOf(x) !== i);
      assert.deepEqual(dup(scheduled).map((t) => new Date(t).toISOString()), [], 'a scheduled time ran twice');
      assert.deepEqual(dup(lines.map((l) => l.taskId)), [], 'a task ran twice');
      assert.deepEqual(dup(lines.map((l) => l.runId)), [], 'a run ran twice');
      // None skipped: the takeover is far inside epsilon, so every 2 s step from the first to the last ran.
      const sorted = [...scheduled].sort((a, b) => a - b);
      for (let i = 1; i < sorted.length; i++) {
        assert.equal((sorted[i] as number) - (sorted[i - 1] as number), 2000, `scheduled times ran: ${sorted.map((t) => new Date(t).toISOString()).join(', ')}`);
      }
      assert.deepEqual(stat.taskStatHistory.filter((r) => r.status === 'skipped'), [], 'no run was skipped');
      // No gap longer than period + takeover + epsilon.
      const maxGap = Math.max(...gaps);
      assert.ok(maxGap <= 2000 + takeoverMs + 10_000, `a gap of ${maxGap} ms between runs`);
    } finally {
      for (const fw of instances) await fw.daemon.stop();
    }
  });

  it('jobs: a webhook being retried when the jobs leader is SIGKILLed is delivered by the new leader (same delivery id)', async () => {
    // The receiver answers 503 until told otherwise, and records every POST.
    let answer = 503;
    const received: Array<{ header: string | undefined; deliveryId: string; event: string; job: string; status: number; at: number }> = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { deliveryId: string; event: string; job: string };
        const header = req.headers['x-tessera-delivery'];
        received.push({ header: Array.isArray(header) ? header[0] : header, deliveryId: body.deliveryId, event: body.event, job: body.job, status: answer, at: Date.now() });
        res.statusCode = answer;
        res.end();
      });
    });
    const hookPort = await listenHttp(receiver, 0, '127.0.0.1');
    const instances = [await startFramework('jobs', '/tessera-jobs-hooks', 'jobs-hooks0'), await startFramework('jobs', '/tessera-jobs-hooks', 'jobs-hooks1')];
    try {
      const started = Date.now();
      const leaderAmong = (among: FrameworkDaemon[]): Promise<FrameworkDaemon> =>
        waitFor('a leading jobs instance with its state loaded', async () => {
          for (const fw of among.filter((f) => f.daemon.running)) {
            const health = await requestJson<{ leading: boolean }>(`${fw.url}/health`, { timeoutMs: 2000 }).catch(() => undefined);
            if (!health?.leading) continue;
            const r = await fetch(`${fw.url}/v1/scheduler/jobs`, { redirect: 'manual' }).catch(() => undefined);
            if (r?.status === 200) return fw;
          }
          return undefined;
        }, 20_000);
      const leader = await leaderAmong(instances);
      const follower = instances.find((f) => f !== leader) as FrameworkDaemon;
      await requestJson(`${leader.url}/v1/scheduler/iso8601`, {
        body: { name: 'notify-me', command: 'true', schedule: 'R/2099-01-01T00:00:00Z/P1D', cpus: 0.1, mem: 32, successWebhook: `http://127.0.0.1:${hookPort}/done` },
      });
      await requestJson(`${leader.url}/v1/scheduler/job/notify-me`, { method: 'PUT' });
      // The run succeeds; its webhook gets 503s and is being retried (5 attempts, 0.5 s doubling) when the leader dies.
      await waitFor('two refused webhook attempts', () => (received.length >= 2 ? true : undefined), 20_000, 20);
      await leader.daemon.crash();
      const refusedBeforeKill = received.length;
      answer = 200; // The old leader is dead: whatever is accepted from now on, the new leader sent.
      const killedAt = Date.now();
      const newLeader = await leaderAmong([follower]);
      const accepted = await waitFor('the webhook accepted from the new leader', () => received.find((r) => r.status === 200), 20_000, 20);
      console.log(`      webhook: ${refusedBeforeKill} refused before the SIGKILL; accepted ${accepted.at - killedAt} ms after it; ${received.length} POSTs; ${Date.now() - started} ms in all`);

      const [run] = (await requestJson<{ taskStatHistory: StatRun[] }>(`${newLeader.url}/v1/scheduler/job/stat/notify-me`)).taskStatHistory;
      assert.equal(run?.status, 'success');
      const id = received[0]?.deliveryId ?? '';
      assert.match(id, new RegExp(`^${run.runId}@\\d+:job_success$`), 'the delivery id names the run, its scheduled time and the event');
      for (const r of received) {
        assert.equal(r.deliveryId, id, 'every POST, before and after the failover, carries the same delivery id');
        assert.equal(r.header, id, 'the X-Tessera-Delivery header is the body deliveryId');
        assert.equal(r.job, 'notify-me');
        assert.equal(r.event, 'job_success');
      }
      assert.ok(refusedBeforeKill >= 2 && refusedBeforeKill < 5, `the old leader made ${refusedBeforeKill} attempts`);
      assert.equal(accepted.deliveryId, id);
      // Delivered: nothing more is sent, and nothing was given up on.
      const settled = received.length;
      const stat = await requestJson<{ lastNotificationError?: unknown }>(`${newLeader.url}/v1/scheduler/job/stat/notify-me`);
      assert.equal(stat.lastNotificationError, undefined);
      // Watch longer than the next backoff pause (1–4 s): an entry left in the outbox would be sent again within it.
      const watchUntil = Date.now() + 4500;
      while (Date.now() < watchUntil) {
        assert.equal(received.length, settled, 'no POST after the accepted one');
        await delay(100);
      }
      await requestJson(`${newLeader.url}/v1/scheduler/job/notify-me`, { method: 'DELETE' });
    } finally {
      for (const fw of instances) await fw.daemon.stop();
      await closeHttpServer(receiver);
    }
  });

  it('services runs the jobs framework as an app: healthy, subscribed, and a job posted to it runs', async () => {
    // The services instance left from the first test, or a new one if that test did not get that far.
    let services = frameworkDaemons.filter((f) => f.daemon.running && f.daemon.name.startsWith('services'));
    if (services.length === 0) services = [await startFramework('services', '/tessera-services', 'services2')];
    const { fw } = await servicesLeader(services);
    const frameworksNamed = async (name: string): Promise<Array<{ id: string; active: boolean }>> => {
      const state = await requestJson<{ frameworks: Array<{ id: string; name: string; active: boolean }> }>(`${await cluster.leaderUrl()}/master/state`);
      return state.frameworks.filter((f) => f.name === name);
    };
    const known = new Set((await frameworksNamed('tessera-jobs')).map((f) => f.id));

    // Command tasks get their sandbox as $MESOS_SANDBOX (agent/tasks/task-manager.ts).
    const cmd = [process.execPath, CLI, 'framework', 'jobs', '--master', cluster.zkUrl, '--zk', cluster.zk.url('/tessera-jobs-app'),
      '--port', '$PORT0', '--host', '127.0.0.1', '--advertise-host', '127.0.0.1', '--work-dir', '$MESOS_SANDBOX/jobs', '--zk-session-timeout', FW_SESSION_TIMEOUT].join(' ');
    await requestJson(`${fw.url}/v2/apps`, {
      body: {
        id: '/jobs-fw',
        cmd: `exec ${cmd}`,
        cpus: 0.5,
        mem: 256,
        instances: 1,
        healthChecks: [{ protocol: 'HTTP', path: '/health', portIndex: 0, gracePeriodSeconds: 30, intervalSeconds: 2, timeoutSeconds: 2, maxConsecutiveFailures: 3 }],
      },
    });
    try {
      const app = await waitFor('the jobs framework app healthy', async () => {
        const a = (await requestJson<{ app: AppJson }>(`${fw.url}/v2/apps/jobs-fw`)).app;
        return a.deployments.length === 0 && a.tasks.length === 1 && a.tasks.every(healthy) ? a : undefined;
      }, 45_000);
      const { tasks } = await requestJson<{ tasks: TaskJson[] }>(`${fw.url}/v2/apps/jobs-fw/tasks`);
      const task = tasks[0];
      assert.ok(task && tasks.length === 1, JSON.stringify(tasks));
      assert.equal(task.id, app.tasks[0]?.id);
      // The task's host is the agent's hostname; the jobs framework listens on loopback (as told), so use 127.0.0.1.
      const jobsUrl = `http://127.0.0.1:${task.ports[0]}`;

      const subscribed = await waitFor('the jobs framework subscribed at the master', async () => {
        const fresh = (await frameworksNamed('tessera-jobs')).filter((f) => !known.has(f.id) && f.active);
        return fresh.length === 1 ? fresh[0] : undefined;
      }, 20_000);
      assert.ok(subscribed);

      await requestJson(`${jobsUrl}/v1/scheduler/iso8601`, {
        body: { name: 'on-cluster', command: 'echo ran on the cluster', schedule: `R/${startIn(1500)}/PT60S`, epsilon: 'PT30S', cpus: 0.1, mem: 32 },
      });
      const ran = await waitFor('the job posted to the hosted jobs framework to succeed', async () => {
        const j = (await requestJson<JobView[]>(`${jobsUrl}/v1/scheduler/jobs`)).find((x) => x.name === 'on-cluster');
        return j && j.successCount >= 1 ? j : undefined;
      }, 30_000);
      assert.equal(ran.errorCount, 0);
      const state = await requestJson<{ frameworks: Array<{ id: string; tasks: Array<{ id: string; state: string }> }> }>(`${await cluster.leaderUrl()}/master/state`);
      const jobTasks = state.frameworks.find((f) => f.id === subscribed.id)?.tasks ?? [];
      console.log(`      hosted jobs framework ${subscribed.id}; its tasks at the master: ${jobTasks.map((t) => `${t.id}=${t.state}`).join(', ') || '(completed ones not listed)'}`);
    } finally {
      await requestJson(`${fw.url}/v2/apps/jobs-fw?force=true`, { method: 'DELETE' }).catch(() => undefined);
      await waitFor('the jobs framework app gone from the agents', async () => ((await liveAgentTasks(cluster, 'jobs-fw')).length === 0 ? true : undefined), 30_000);
    }
  });

  it('services runs a second services framework as an app: it subscribes, and an app created through it runs', async () => {
    let services = frameworkDaemons.filter((f) => f.daemon.running && f.daemon.name.startsWith('services'));
    if (services.length === 0) services = [await startFramework('services', '/tessera-services', 'services3')];
    const { fw: outer, frameworkId: outerId } = await servicesLeader(services);
    const frameworksNamed = async (name: string): Promise<Array<{ id: string; active: boolean }>> => {
      const state = await requestJson<{ frameworks: Array<{ id: string; name: string; active: boolean }> }>(`${await cluster.leaderUrl()}/master/state`);
      return state.frameworks.filter((f) => f.name === name);
    };
    // Its own ZooKeeper path (its own election and state) and framework name; its API on the port of its offer.
    const cmd = [process.execPath, CLI, 'framework', 'services', '--master', cluster.zkUrl, '--zk', cluster.zk.url('/tessera-services-app'),
      '--name', 'tessera-services-inner', '--port', '$PORT0', '--host', '127.0.0.1', '--advertise-host', '127.0.0.1',
      '--work-dir', '$MESOS_SANDBOX/services', '--zk-session-timeout', FW_SESSION_TIMEOUT].join(' ');
    await requestJson(`${outer.url}/v2/apps`, {
      body: {
        id: '/services-inner',
        cmd: `exec ${cmd}`,
        cpus: 0.5,
        mem: 256,
        instances: 1,
        healthChecks: [{ protocol: 'HTTP', path: '/ping', portIndex: 0, gracePeriodSeconds: 30, intervalSeconds: 2, timeoutSeconds: 2, maxConsecutiveFailures: 3 }],
      },
    });
    let innerUrl: string | undefined;
    try {
      await waitFor('the inner services framework app healthy', async () => {
        const a = (await requestJson<{ app: AppJson }>(`${outer.url}/v2/apps/services-inner`)).app;
        return a.deployments.length === 0 && a.tasks.length === 1 && a.tasks.every(healthy) ? a : undefined;
      }, 45_000);
      // Found the way a client finds it: the outer instance's task list says where it runs.
      const { tasks } = await requestJson<{ tasks: TaskJson[] }>(`${outer.url}/v2/apps/services-inner/tasks`);
      const task = tasks[0];
      assert.ok(task && tasks.length === 1 && task.ports[0] !== undefined, JSON.stringify(tasks));
      // The task's host is the agent's hostname; the inner instance listens on loopback (as told).
      innerUrl = `http://127.0.0.1:${task.ports[0]}`;
      const url = innerUrl;
      const info = await waitFor('the inner services instance elected and subscribed', async () => {
        const i = await requestJson<ServicesInfo>(`${url}/v2/info`, { timeoutMs: 2000 }).catch(() => undefined);
        return i?.elected && i.frameworkId ? i : undefined;
      }, 20_000);
      assert.notEqual(info.frameworkId, outerId, 'a framework of its own');
      const inner = await frameworksNamed('tessera-services-inner');
      assert.deepEqual(inner.map((f) => [f.id, f.active]), [[info.frameworkId, true]]);

      await requestJson(`${url}/v2/apps`, { body: { id: '/inner-app', cmd: 'exec sleep 600', cpus: 0.1, mem: 32, instances: 1 } });
      const innerApp = await waitFor('the app created through the inner instance running', async () => {
        const a = (await requestJson<{ app: AppJson }>(`${url}/v2/apps/inner-app`)).app;
        return a.deployments.length === 0 && a.tasks.length === 1 && a.tasks[0]?.state === 'TASK_RUNNING' ? a : undefined;
      }, 30_000);
      // Really on an agent, and the master counts it as the inner framework's.
      assert.deepEqual(await liveAgentTasks(cluster, 'inner-app.'), innerApp.tasks.map((t) => t.id));
      const state = await requestJson<{ frameworks: Array<{ id: string; tasks: Array<{ id: string; state: string }> }> }>(`${await cluster.leaderUrl()}/master/state`);
      assert.deepEqual(state.frameworks.find((f) => f.id === info.frameworkId)?.tasks.map((t) => t.id), innerApp.tasks.map((t) => t.id));
    } finally {
      if (innerUrl !== undefined) {
        await requestJson(`${innerUrl}/v2/apps/inner-app?force=true`, { method: 'DELETE' }).catch(() => undefined);
        await waitFor('the inner app gone from the agents', async () => ((await liveAgentTasks(cluster, 'inner-app.')).length === 0 ? true : undefined), 20_000);
      }
      await requestJson(`${outer.url}/v2/apps/services-inner?force=true`, { method: 'DELETE' }).catch(() => undefined);
      await waitFor('the inner services framework gone from the agents', async () => ((await liveAgentTasks(cluster, 'services-inner')).length === 0 ? true : undefined), 30_000);
    }
  });
});
