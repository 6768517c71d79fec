// End-to-end: the services framework as its own process against a real master and two real agents
// (command tasks in cgroups). Apps are busybox httpd servers with an HTTP health check on PORT0.
//
// Both agents run on this one machine, so they share its hostname: ["hostname","UNIQUE"] therefore
// caps an app at one instance here, which is what the constraint test checks. The agents get
// disjoint port ranges so that tasks on different agents never collide on a port.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { RemoteError, requestJson } from '../common/index.js';
import { TestAgent, TestCluster } from './harness/cluster.js';
import { CLI } from './harness/daemon.js';
import { freePort } from './harness/ports.js';
import { waitFor } from './harness/wait.js';

const DIST = fileURLToPath(new URL('..', import.meta.url));
const REPO = join(DIST, '..');

/** The real `tessera` command, as a user runs it. */
function runnerArgs(args: string[]): string[] {
  return [CLI, ...args];
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, runnerArgs(args), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface TaskJson {
  id: string;
  host: string;
  ports: number[];
  state: string;
  version: string;
  killing?: string;
  healthCheckResults: Array<{ alive: boolean; lastFailure?: string | null }>;
}

interface AppJson {
  id: string;
  instances: number;
  tasksRunning: number;
  tasksHealthy: number;
  deployments: Array<{ id: string }>;
  tasks: TaskJson[];
}

function httpApp(id: string, instances: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    cmd: 'mkdir -p www && echo "$MARATHON_APP_ID $VERSION_TAG" > www/index.html && exec busybox httpd -f -p 127.0.0.1:$PORT0 -h www',
    cpus: 0.1,
    mem: 32,
    instances,
    env: { VERSION_TAG: 'v1' },
    backoffSeconds: 0.5,
    backoffFactor: 1.5,
    maxLaunchDelaySeconds: 3,
    healthChecks: [{ protocol: 'HTTP', path: '/', gracePeriodSeconds: 15, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3 }],
    ...extra,
  };
}

interface DeploymentJson {
  id: string;
  steps: Array<{ actions: Array<{ action: string; app: string }> }>;
  currentActions: Array<{ action: string; app: string; readinessCheckResults: unknown[] }>;
  currentStep: number;
  totalSteps: number;
}

/** Reads a /v2/events SSE stream into `seen` until close(); resolves once connected. */
async function subscribeEvents(eventsUrl: string): Promise<{ seen: Array<{ type: string; data: Record<string, unknown> }>; close: () => void }> {
  const controller = new AbortController();
  const response = await fetch(eventsUrl, { signal: controller.signal });
  const reader = response.body?.getReader();
  assert.ok(reader, 'an event stream');
  const seen: Array<{ type: string; data: Record<string, unknown> }> = [];
  let buffer = '';
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) seen.push({ type, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { seen, close: () => controller.abort() };
}

/** The pid of the process whose command line mentions `needle` (the task's httpd), if any. */
async function findPid(needle: string): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').join(' ').includes(needle) && cmdline.includes('httpd')) return Number(entry);
  }
  return undefined;
}

describe('services framework (e2e: real master, 2 agents, services daemon)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;
  let services: ChildProcess | undefined;
  let url: string;

  const app = async (id: string): Promise<AppJson> => (await requestJson<{ app: AppJson }>(`${url}/v2/apps${id}`)).app;
  const healthyTasks = (a: AppJson): TaskJson[] => a.tasks.filter((t) => t.state === 'TASK_RUNNING' && !t.killing && t.healthCheckResults.every((h) => h.alive));
  const deploymentsDone = async (id: string): Promise<AppJson | undefined> => {
    const a = await app(id);
    return a.deployments.length === 0 ? a : undefined;
  };

  before(async function () {
    try {
      cluster = await TestCluster.start({ agents: 1, agentArgs: ['--resources', 'cpus:2;mem:2048;ports:[31000-31299]'] });
    } catch (err) {
      if (process.env.CI === 'true') throw err;
      console.log(`skipping: cannot start a test cluster here: ${String(err)}`);
      this.skip();
    }
    // A second agent with its own port range (the harness gives every agent the same flags).
    const port = await freePort();
    const cgroupsRoot = `tessera-it-${randomBytes(4).toString('hex')}`;
    const workDir = join(cluster.baseDir, 'agent1');
    const agent = new TestAgent(1, port, workDir, cgroupsRoot, ['agent', '--master', `127.0.0.1:${cluster.masterPort}`, '--host', '127.0.0.1',
      '--port', String(port), '--work-dir', workDir, '--cgroups-root', cgroupsRoot, '--isolation', 'cgroups',
      '--resources', 'cpus:2;mem:2048;ports:[31300-31599]'], cluster.baseDir);
    cluster.agents.push(agent);
    await agent.start();
    await cluster.waitForAgents(2);

    const servicesPort = await freePort();
    url = `http://127.0.0.1:${servicesPort}`;
    const log = createWriteStream(join(cluster.baseDir, 'services.log'), { flags: 'a' });
    services = spawn(process.execPath, runnerArgs(['framework', 'services', '--master', `127.0.0.1:${cluster.masterPort}`,
      '--host', '127.0.0.1', '--port', String(servicesPort), '--work-dir', join(cluster.baseDir, 'services')]), {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TESSERA_LOG_LEVEL: 'debug' },
    });
    services.stdout?.pipe(log);
    services.stderr?.pipe(log);
    await waitFor(`services daemon at ${url} (log ${cluster.baseDir}/services.log)`, async () => {
      if (services?.exitCode !== null) throw new Error(`services daemon exited with ${String(services?.exitCode)}`);
      const info = await requestJson<{ elected: boolean; frameworkId: string | null }>(`${url}/v2/info`).catch(() => undefined);
      return info?.elected && info.frameworkId ? info : undefined;
    });
  });

  after(async () => {
    if (services && services.exitCode === null) {
      const exited = new Promise((resolve) => services?.once('exit', resolve));
      services.kill('SIGTERM');
      await exited;
    }
    await cluster?.stop();
  });

  it('refuses invalid definitions with 400 naming the field, and stores nothing', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ id: 'bad', cmd: 'x', instances: -1 }, 'instances'],
      [{ id: 'bad' }, 'cmd'],
      [{ id: 'bad', cmd: 'x', healthChecks: [{ protocol: 'SMTP' }] }, 'healthChecks[0].protocol'],
      [{ id: 'bad', cmd: 'x', constraints: [['hostname', 'SOMEWHERE']] }, 'constraints[0][1]'],
      [{ id: 'Bad Id', cmd: 'x' }, 'id'],
    ];
    for (const [body, field] of cases) {
      await assert.rejects(requestJson(`${url}/v2/apps`, { body }), (err: unknown) => {
        assert.ok(err instanceof RemoteError);
        assert.equal(err.status, 400, JSON.stringify(body));
        assert.equal(err.field, field);
        return true;
      });
    }
    const { apps } = await requestJson<{ apps: unknown[] }>(`${url}/v2/apps`);
    assert.equal(apps.length, 0);
    // The CLI says which field.
    const file = join(cluster.baseDir, 'bad-app.json');
    await writeFile(file, JSON.stringify({ id: 'bad', cmd: 'x', mem: -5 }));
    const cli = await runCli(['apps', 'add', file, '--services', url.replace('http://', '')]);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /field mem/);
  });

  it('keeps 3 healthy instances, replaces a killed one, scales 3 → 5 → 1', async () => {
    const added = await requestJson<{ id: string; deployments: Array<{ id: string }> }>(`${url}/v2/apps`, { body: httpApp('/web', 3) });
    assert.equal(added.id, '/web');
    let web = await waitFor('3 healthy /web tasks', async () => {
      const a = await deploymentsDone('/web');
      return a && healthyTasks(a).length === 3 ? a : undefined;
    }, 60_000);
    // Both agents are used (the keeper spreads nothing on purpose, but one offer holds at most what fits).
    const body = await (await fetch(`http://127.0.0.1:${web.tasks[0]?.ports[0]}/`)).text();
    assert.match(body, /\/web v1/);

    const victim = web.tasks[0];
    assert.ok(victim);
    const pid = await waitFor('the httpd of one task', () => findPid(`127.0.0.1:${victim.ports[0]}`));
    process.kill(pid, 'SIGKILL');
    await waitFor('a replacement for the killed task', async () => {
      const a = await app('/web');
      const healthy = healthyTasks(a);
      return healthy.length === 3 && !healthy.some((t) => t.id === victim.id) ? a : undefined;
    }, 60_000);

    const scale = await runCli(['apps', 'scale', '/web', '5', '--services', url.replace('http://', ''), '--timeout', '60s']);
    assert.equal(scale.code, 0, scale.stderr);
    assert.match(scale.stdout, /finished: 5\/5 running/);
    assert.match(scale.stdout, /\(step 1\/1 ScaleApplication\)/, 'the CLI shows the deployment step');
    web = await app('/web');
    assert.equal(healthyTasks(web).length, 5);

    const down = await requestJson<{ deploymentId: string }>(`${url}/v2/apps/web`, { method: 'PUT', body: { instances: 1 } });
    assert.ok(down.deploymentId);
    web = await waitFor('/web scaled to 1', async () => {
      const a = await deploymentsDone('/web');
      return a && a.tasks.length === 1 ? a : undefined;
    }, 30_000);
    assert.equal(web.instances, 1);
  });

  it('rolls an upgrade without going below minimumHealthCapacity or above maximumOverCapacity', async () => {
    // 4 instances, min 0.5 → never fewer than 2 healthy; over 0.5 → never more than 6 tasks.
    await requestJson(`${url}/v2/apps/web?force=true`, {
      method: 'PUT',
      body: { instances: 4, upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.5 } },
    });
    await waitFor('4 healthy /web tasks', async () => {
      const a = await deploymentsDone('/web');
      return a && healthyTasks(a).length === 4 ? a : undefined;
    }, 60_000);
    const before = await app('/web');
    const oldVersion = before.tasks[0]?.version;
    const events = await subscribeEvents(`${url}/v2/events?event_type=deployment_info&event_type=deployment_step_success&event_type=deployment_success`);
    const { deploymentId } = await requestJson<{ deploymentId: string }>(`${url}/v2/apps/web`, { method: 'PUT', body: { env: { VERSION_TAG: 'v2' } } });
    let minHealthy = Infinity;
    let maxTasks = 0;
    const stepsSeen = new Set<string>();
    let after: AppJson;
    try {
      after = await waitFor('the rolling upgrade to finish', async () => {
        const [a, deployments] = await Promise.all([app('/web'), requestJson<DeploymentJson[]>(`${url}/v2/deployments`)]);
        const d = deployments.find((x) => x.id === deploymentId);
        if (d) {
          assert.equal(d.totalSteps, 2);
          assert.deepEqual(d.steps.map((step) => step.actions.map((x) => x.action)), [['RestartApplication'], ['ScaleApplication']]);
          assert.deepEqual(d.currentActions.map((x) => x.readinessCheckResults), [[]]);
          stepsSeen.add(`${d.currentStep} ${d.currentActions.map((x) => x.action).join()}`);
        }
        minHealthy = Math.min(minHealthy, healthyTasks(a).length);
        maxTasks = Math.max(maxTasks, a.tasks.filter((t) => !t.killing).length);
        return a.deployments.length === 0 && healthyTasks(a).length === 4 ? a : undefined;
      }, 90_000, 50);
      await waitFor('deployment_success on /v2/events', async () => (events.seen.some((e) => e.type === 'deployment_success' && e.data.id === deploymentId) ? true : undefined), 5000);
    } finally {
      events.close();
    }
    assert.ok(stepsSeen.has('1 RestartApplication'), `GET /v2/deployments showed step 1: ${[...stepsSeen].join('; ')}`);
    // The events of this deployment, in order: each step announced, each step done, then the whole.
    const mine = events.seen.filter((e) => (e.data.plan as { id?: string } | undefined)?.id === deploymentId || e.data.id === deploymentId);
    const currentAction = (e: { data: Record<string, unknown> }): string => ((e.data.currentStep as { actions?: Array<{ action: string }> } | undefined)?.actions ?? []).map((x) => x.action).join();
    assert.deepEqual(mine.map((e) => `${e.type} ${currentAction(e)}`.trim()), [
      'deployment_info RestartApplication',
      'deployment_step_success RestartApplication',
      'deployment_info ScaleApplication',
      'deployment_step_success ScaleApplication',
      'deployment_success',
    ]);
    assert.ok(after.tasks.every((t) => t.version !== oldVersion), 'every task was replaced');
    assert.ok(minHealthy >= 2, `healthy never below 2 (saw ${minHealthy})`);
    assert.ok(maxTasks <= 6, `tasks never above 6 (saw ${maxTasks})`);
    const body = await (await fetch(`http://127.0.0.1:${after.tasks[0]?.ports[0]}/`)).text();
    assert.match(body, /v2/);
  });

  it('kills a task through the API: replaced without scale; with scale=true instances drop and nothing replaces it', async () => {
    const before = await waitFor('4 healthy /web tasks', async () => {
      const a = await deploymentsDone('/web');
      return a && healthyTasks(a).length === 4 ? a : undefined;
    }, 60_000);
    const [victim, scaledAway] = before.tasks;
    assert.ok(victim && scaledAway);

    const killed = await requestJson<{ task: TaskJson }>(`${url}/v2/apps/web/tasks/${encodeURIComponent(victim.id)}`, { method: 'DELETE' });
    assert.equal(killed.task.id, victim.id);
    const replaced = await waitFor('a replacement for the task killed without scale', async () => {
      const a = await app('/web');
      const healthy = healthyTasks(a);
      return a.tasks.length === 4 && healthy.length === 4 && !a.tasks.some((t) => t.id === victim.id) ? a : undefined;
    }, 60_000);
    assert.equal(replaced.instances, 4);

    const scaled = await requestJson<{ deploymentId: string; version: string }>(`${url}/v2/apps/web/tasks/${encodeURIComponent(scaledAway.id)}?scale=true`, {
      method: 'DELETE',
    });
    assert.ok(scaled.deploymentId);
    const after = await waitFor('/web at 3 instances without the killed task', async () => {
      const a = await deploymentsDone('/web');
      return a && a.tasks.length === 3 && !a.tasks.some((t) => t.id === scaledAway.id) ? a : undefined;
    }, 30_000);
    assert.equal(after.instances, 3, 'instances lowered by one');
    // Watch for 3 s (several offer rounds): no replacement starts.
    const ids = after.tasks.map((t) => t.id).sort().join(',');
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const a = await app('/web');
      assert.equal(a.tasks.map((t) => t.id).sort().join(','), ids, 'a task was started after a kill with scale=true');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // Unknown task: 404 with a message.
    await assert.rejects(requestJson(`${url}/v2/apps/web/tasks/web.nope`, { method: 'DELETE' }), (err: unknown) => {
      assert.ok(err instanceof RemoteError);
      assert.equal(err.status, 404);
      assert.match(err.peerMessage, /web\.nope/);
      return true;
    });
  });

  it('a COMMAND health check runs in the task: unhealthy first, healthy once its file exists, killed and replaced once it is gone', async () => {
    const file = join(tmpdir(), `tessera-hc-${randomBytes(6).toString('hex')}`);
    const lastFailure = (t: TaskJson): boolean => typeof t.healthCheckResults[0]?.lastFailure === 'string';
    try {
      await requestJson(`${url}/v2/apps`, {
        body: {
          id: '/cmdcheck',
          cmd: 'exec sleep 600',
          cpus: 0.1,
          mem: 32,
          instances: 2,
          backoffSeconds: 0.5,
          backoffFactor: 1,
          // No grace: the first failures count (and are reported); 4 in a row at 1 s and the agent kills.
          healthChecks: [{ protocol: 'COMMAND', command: { value: `test -f ${file}` }, gracePeriodSeconds: 0, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 4 }],
        },
      });
      const unhealthy = await waitFor('2 running /cmdcheck tasks reported unhealthy by their agent', async () => {
        const a = await app('/cmdcheck');
        const running = a.tasks.filter((t) => t.state === 'TASK_RUNNING' && lastFailure(t));
        return running.length === 2 && running.every((t) => t.healthCheckResults[0]?.alive === false) ? a : undefined;
      }, 30_000, 50);
      assert.equal(unhealthy.tasksHealthy, 0);
      assert.equal(unhealthy.deployments.length, 1, 'the deployment waits for healthy tasks');
      await writeFile(file, 'ok');
      const healthy = await waitFor('2 healthy /cmdcheck tasks, deployment done', async () => {
        const a = await deploymentsDone('/cmdcheck');
        return a && a.tasksHealthy === 2 && healthyTasks(a).length === 2 ? a : undefined;
      }, 30_000, 100);
      // The same tasks: nothing was killed while unhealthy for fewer than maxConsecutiveFailures checks.
      assert.deepEqual(healthy.tasks.map((t) => t.id).sort(), unhealthy.tasks.filter((t) => t.state === 'TASK_RUNNING').map((t) => t.id).sort());

      await rm(file);
      const oldIds = new Set(healthy.tasks.map((t) => t.id));
      const replaced = await waitFor('both tasks killed by their agent and replaced', async () => {
        const a = await app('/cmdcheck');
        const fresh = a.tasks.filter((t) => !oldIds.has(t.id) && t.state === 'TASK_RUNNING');
        return !a.tasks.some((t) => oldIds.has(t.id)) && fresh.length === 2 ? a : undefined;
      }, 40_000, 100);
      assert.equal(replaced.instances, 2);
    } finally {
      await rm(file, { force: true });
      await requestJson(`${url}/v2/apps/cmdcheck?force=true`, { method: 'DELETE' }).catch(() => undefined);
    }
  });

  it('["hostname","UNIQUE"] caps an app at one instance per host (both agents share this host)', async () => {
    await requestJson(`${url}/v2/apps`, { body: httpApp('/uniq', 2, { constraints: [['hostname', 'UNIQUE']] }) });
    await waitFor('one /uniq task running', async () => {
      const a = await app('/uniq');
      return healthyTasks(a).length === 1 ? a : undefined;
    }, 30_000);
    // Watch for 3 s (several offer rounds from both agents): the second instance must never start.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const a = await app('/uniq');
      assert.ok(a.tasks.length <= 1, `UNIQUE hostname broken: ${a.tasks.length} tasks`);
      assert.equal(a.deployments.length, 1, 'the deployment cannot finish');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const removed = await runCli(['apps', 'remove', '/uniq', '--force', '--services', url.replace('http://', ''), '--timeout', '30s']);
    assert.equal(removed.code, 0, removed.stderr);
    await assert.rejects(app('/uniq'), (err: unknown) => err instanceof RemoteError && err.status === 404);
  });
});
