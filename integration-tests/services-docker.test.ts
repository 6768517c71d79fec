// End-to-end with Docker: a real master and an agent with the Docker executor, the services framework
// and the jobs framework as real `tessera framework …` processes. A services app runs busybox httpd in a
// container (host network, its port from the offer) behind an HTTP health check and is replaced when its
// container is killed; a jobs-framework job in a container runs and counts a success. Skipped without a
// Docker engine or the offline test image, except in CI (CI=true), where that is a failure.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { errorMessage, requestJson } from '../common/index.js';
import { TEST_IMAGE, TestCluster } from './harness/cluster.js';
import { Daemon } from './harness/daemon.js';
import { freePort } from './harness/ports.js';
import { waitFor } from './harness/wait.js';

const DOCKER_SOCKET = '/var/run/docker.sock';
/** The label the agent's Docker executor puts the Mesos task id in. */
const TASK_LABEL = 'tessera.task_id';

interface TaskJson {
  id: string;
  host: string;
  ports: number[];
  state: string;
  killing?: string;
  healthCheckResults: Array<{ alive: boolean }>;
}

interface AppJson {
  id: string;
  instances: number;
  deployments: Array<{ id: string }>;
  tasks: TaskJson[];
}

interface JobView {
  name: string;
  successCount: number;
  errorCount: number;
}

/** Why Docker cannot be used here, or undefined when the engine answers and has the test image. */
async function dockerMissing(docker: Docker): Promise<string | undefined> {
  try {
    await docker.ping();
  } catch (err) {
    return `no Docker engine at ${DOCKER_SOCKET}: ${errorMessage(err)}`;
  }
  try {
    await docker.getImage(TEST_IMAGE).inspect();
  } catch (err) {
    return `the test image ${TEST_IMAGE} is missing: ${errorMessage(err)}`;
  }
  return undefined;
}

describe('services and jobs frameworks with Docker containers (e2e)', function () {
  this.timeout(120_000);
  const docker = new Docker({ socketPath: DOCKER_SOCKET });
  let cluster: TestCluster | undefined;
  let services: Daemon | undefined;
  let jobs: Daemon | undefined;
  let servicesUrl = '';
  let jobsUrl = '';
  let workDir = '';
  /** Every task id the frameworks reported, to find and remove their containers whatever happens. */
  const taskIds = new Set<string>();

  const containersOf = async (ids: Iterable<string>): Promise<Docker.ContainerInfo[]> => {
    const wanted = new Set(ids);
    const all = await docker.listContainers({ all: true, filters: { label: [TASK_LABEL] } });
    return all.filter((c) => wanted.has(c.Labels[TASK_LABEL] ?? ''));
  };

  before(async function () {
    this.timeout(90_000);
    const missing = await dockerMissing(docker);
    if (missing !== undefined) {
      if (process.env.CI === 'true') throw new Error(`Docker is required in CI: ${missing}`);
      console.log(`      skipped: ${missing}`);
      this.skip();
    }
    cluster = await TestCluster.start({ agents: 1, agentArgs: ['--docker', 'on', '--resources', 'cpus:2;mem:2048;ports:[31000-31099]'] });
    workDir = await mkdtemp(join(tmpdir(), 'tessera-fw-docker-'));
    const master = `127.0.0.1:${cluster.masterPort}`;
    const servicesPort = await freePort();
    servicesUrl = `http://127.0.0.1:${servicesPort}`;
    services = await Daemon.start(
      'services',
      ['framework', 'services', '--master', master, '--host', '127.0.0.1', '--port', String(servicesPort), '--work-dir', join(workDir, 'services')],
      servicesUrl,
      cluster.baseDir,
    );
    const jobsPort = await freePort();
    jobsUrl = `http://127.0.0.1:${jobsPort}`;
    jobs = await Daemon.start(
      'jobs',
      ['framework', 'jobs', '--master', master, '--host', '127.0.0.1', '--port', String(jobsPort), '--work-dir', join(workDir, 'jobs')],
      jobsUrl,
      cluster.baseDir,
    );
    await waitFor('the services framework subscribed', async () => {
      const info = await requestJson<{ elected: boolean; frameworkId: string | null }>(`${servicesUrl}/v2/info`).catch(() => undefined);
      return info?.elected && info.frameworkId ? true : undefined;
    });
    await waitFor('the jobs framework leading', async () => (await requestJson<{ leading: boolean }>(`${jobsUrl}/health`)).leading || undefined);
  });

  after(async function () {
    this.timeout(60_000);
    // Frameworks first (a live one would relaunch what the cluster's stop kills), then the cluster,
    // which removes the containers labelled with its agents' ids; then anything of ours left over.
    await services?.stop();
    await jobs?.stop();
    await cluster?.stop();
    for (const c of await containersOf(taskIds).catch(() => [])) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('a services app in a Docker container gets healthy, and a killed container is replaced', async () => {
    assert.ok(cluster);
    const app = async (): Promise<AppJson> => (await requestJson<{ app: AppJson }>(`${servicesUrl}/v2/apps/web-docker`)).app;
    const healthy = (a: AppJson): TaskJson[] => a.tasks.filter((t) => t.state === 'TASK_RUNNING' && !t.killing && t.healthCheckResults.every((h) => h.alive));
    await requestJson(`${servicesUrl}/v2/apps`, {
      body: {
        id: '/web-docker',
        container: { type: 'DOCKER', docker: { image: TEST_IMAGE, network: 'HOST' } },
        // busybox httpd in the container, on the port the offer gave (host network).
        cmd: 'mkdir -p /www && echo "in a container: $MARATHON_APP_ID" > /www/index.html && exec httpd -f -p $PORT0 -h /www',
        cpus: 0.2,
        mem: 64,
        instances: 2,
        backoffSeconds: 0.5,
        backoffFactor: 1,
        healthChecks: [{ protocol: 'HTTP', path: '/', gracePeriodSeconds: 20, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3 }],
      },
    });
    const ready = await waitFor('2 healthy containerized /web-docker tasks', async () => {
      const a = await app();
      for (const t of a.tasks) taskIds.add(t.id);
      return a.deployments.length === 0 && healthy(a).length === 2 ? a : undefined;
    }, 60_000);
    const [victim] = ready.tasks;
    assert.ok(victim);
    const body = await (await fetch(`http://127.0.0.1:${victim.ports[0]}/`)).text();
    assert.match(body, /in a container: \/web-docker/);
    // They really are containers of our image.
    const containers = await containersOf(ready.tasks.map((t) => t.id));
    assert.equal(containers.filter((c) => c.State === 'running').length, 2, JSON.stringify(containers.map((c) => [c.Labels[TASK_LABEL], c.State])));
    assert.ok(containers.every((c) => c.Image === TEST_IMAGE || c.Image.startsWith('sha256:')), containers.map((c) => c.Image).join());

    const victimContainer = containers.find((c) => c.Labels[TASK_LABEL] === victim.id);
    assert.ok(victimContainer);
    await docker.getContainer(victimContainer.Id).kill({ signal: 'SIGKILL' });
    const after = await waitFor('a replacement for the killed container', async () => {
      const a = await app();
      for (const t of a.tasks) taskIds.add(t.id);
      const good = healthy(a);
      return good.length === 2 && !a.tasks.some((t) => t.id === victim.id) ? a : undefined;
    }, 60_000);
    const replacement = after.tasks.find((t) => t.id !== ready.tasks[1]?.id);
    assert.ok(replacement);
    assert.match(await (await fetch(`http://127.0.0.1:${replacement.ports[0]}/`)).text(), /in a container/);

    await requestJson(`${servicesUrl}/v2/apps/web-docker?force=true`, { method: 'DELETE' });
    await waitFor('every /web-docker container gone or stopped', async () => {
      const left = (await containersOf(taskIds)).filter((c) => c.State === 'running');
      return left.length === 0 ? true : undefined;
    }, 30_000);
  });

  it('a jobs-framework job in a Docker container runs and counts a success', async () => {
    const startAt = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000).toISOString();
    await requestJson(`${jobsUrl}/v1/scheduler/iso8601`, {
      body: {
        name: 'in-docker',
        // Only true inside the image: busybox's httpd applet exists there as /bin/httpd.
        command: 'test -x /bin/httpd && test -d /mnt/mesos/sandbox && echo ran in a container',
        container: { type: 'DOCKER', image: TEST_IMAGE },
        schedule: `R1/${startAt}/PT60S`,
        epsilon: 'PT30S',
        cpus: 0.1,
        mem: 32,
      },
    });
    const job = await waitFor('the containerized job to succeed', async () => {
      const j = (await requestJson<JobView[]>(`${jobsUrl}/v1/scheduler/jobs`)).find((x) => x.name === 'in-docker');
      return j && (j.successCount >= 1 || j.errorCount >= 1) ? j : undefined;
    }, 45_000);
    assert.equal(job.errorCount, 0, 'the job failed');
    assert.equal(job.successCount, 1);
    const stat = await requestJson<{ taskStatHistory: Array<{ taskId: string }> }>(`${jobsUrl}/v1/scheduler/job/stat/in-docker`);
    for (const run of stat.taskStatHistory) taskIds.add(run.taskId);
    await requestJson(`${jobsUrl}/v1/scheduler/job/in-docker`, { method: 'DELETE' });
  });
});
