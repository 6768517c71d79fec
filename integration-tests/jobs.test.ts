// End-to-end tests of the jobs framework: a real master and agent (TestCluster), the jobs framework
// as a `tessera framework jobs` process, jobs run as real command tasks, webhooks received by a local
// HTTP server. Schedules are seconds apart so the whole file stays well under a minute.
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteError, closeHttpServer, listenHttp, requestJson } from '../common/index.js';
import { TestCluster } from './harness/cluster.js';
import { Daemon } from './harness/daemon.js';
import { tessera } from './harness/cli.js';
import { freePort } from './harness/ports.js';
import { waitFor } from './harness/wait.js';

interface JobView {
  name: string;
  successCount: number;
  errorCount: number;
  lastSuccess: string;
  lastError: string;
  running: boolean;
}

interface Stat {
  histogram: { count: number };
  taskStatHistory: Array<{ status: string; attempts: number; scheduledFor: string; startTime: string; trigger: string; taskId: string }>;
}

interface Hook {
  event: string;
  job: string;
  attempts: number;
  message?: string;
}

/** Collects webhook POSTs; the first `failFirst` requests for a job get a 500 (to exercise retries). */
class HookServer {
  readonly hooks: Hook[] = [];
  readonly refused: string[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hook = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Hook;
      const refusals = this.refused.filter((j) => j === hook.job).length;
      if (refusals < (this.failFirst.get(hook.job) ?? 0)) {
        this.refused.push(hook.job);
        res.statusCode = 500;
        res.end();
        return;
      }
      this.hooks.push(hook);
      res.statusCode = 204;
      res.end();
    });
  });
  port = 0;
  readonly failFirst = new Map<string, number>();

  async start(): Promise<void> {
    this.port = await listenHttp(this.server, 0, '127.0.0.1');
  }
  url(path: string): string {
    return `http://127.0.0.1:${this.port}/${path}`;
  }
  stop(): Promise<void> {
    return closeHttpServer(this.server);
  }
}

describe('jobs framework (end to end)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let jobsDaemon: Daemon;
  let jobsUrl: string;
  let jobsPort: number;
  let hooks: HookServer;
  let workDir: string;

  const jobs = (): Promise<JobView[]> => requestJson<JobView[]>(`${jobsUrl}/v1/scheduler/jobs`);
  const job = async (name: string): Promise<JobView> => {
    const found = (await jobs()).find((j) => j.name === name);
    assert.ok(found, `job ${name} is listed`);
    return found;
  };
  const add = (kind: 'iso8601' | 'dependency', body: unknown): Promise<unknown> => requestJson(`${jobsUrl}/v1/scheduler/${kind}`, { body });
  const stat = (name: string): Promise<Stat> => requestJson<Stat>(`${jobsUrl}/v1/scheduler/job/stat/${name}`);
  /** An ISO 8601 instant `ms` from now, whole seconds. */
  const startIn = (ms: number): string => new Date(Math.ceil((Date.now() + ms) / 1000) * 1000).toISOString();

  before(async function () {
    this.timeout(90_000);
    cluster = await TestCluster.start({ agents: 1 });
    hooks = new HookServer();
    await hooks.start();
    workDir = await mkdtemp(join(tmpdir(), 'tessera-jobs-it-'));
    jobsPort = await freePort();
    jobsUrl = `http://127.0.0.1:${jobsPort}`;
    jobsDaemon = await Daemon.start(
      'jobs',
      ['framework', 'jobs', '--master', `127.0.0.1:${cluster.masterPort}`, '--host', '127.0.0.1', '--port', String(jobsPort), '--work-dir', workDir],
      jobsUrl,
      cluster.baseDir,
    );
    await waitFor('the jobs framework to lead', async () => (await requestJson<{ leading: boolean }>(`${jobsUrl}/health`)).leading || undefined);
  });

  after(async function () {
    this.timeout(60_000);
    await jobsDaemon?.stop();
    await hooks?.stop();
    await cluster?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('runs a job on its ISO 8601 schedule and fires the success webhook', async () => {
    await add('iso8601', {
      name: 'tick',
      command: 'echo tick',
      schedule: `R/${startIn(1500)}/PT3S`,
      epsilon: 'PT30S',
      cpus: 0.1,
      mem: 32,
      successWebhook: hooks.url('ok'),
    });
    const after = await waitFor('tick to succeed twice', async () => {
      const j = await job('tick');
      return j.successCount >= 2 ? j : undefined;
    }, 30_000);
    assert.equal(after.errorCount, 0);
    const runs = (await stat('tick')).taskStatHistory.filter((r) => r.status === 'success');
    const times = runs.map((r) => Date.parse(r.scheduledFor)).sort((a, b) => a - b);
    assert.ok(times.length >= 2);
    for (let i = 1; i < times.length; i++) assert.equal(((times[i] as number) - (times[i - 1] as number)) % 3000, 0, 'runs fall on the schedule');
    for (const r of runs) assert.ok(Date.parse(r.startTime) >= Date.parse(r.scheduledFor), 'never before its time');
    await waitFor('a success webhook', () => hooks.hooks.find((h) => h.job === 'tick' && h.event === 'job_success'));
    await requestJson(`${jobsUrl}/v1/scheduler/job/tick`, { method: 'DELETE' });
    assert.equal((await jobs()).some((j) => j.name === 'tick'), false);
  });

  it('runs a dependent job only after both parents succeeded', async () => {
    const far = 'R/2099-01-01T00:00:00Z/P1D';
    await add('iso8601', { name: 'parent-a', command: 'true', schedule: far, mem: 32 });
    await add('iso8601', { name: 'parent-b', command: 'true', schedule: far, mem: 32 });
    await add('dependency', { name: 'child', command: 'true', parents: ['parent-a', 'parent-b'], mem: 32 });
    await requestJson(`${jobsUrl}/v1/scheduler/job/parent-a`, { method: 'PUT' });
    await waitFor('parent-a to succeed', async () => (await job('parent-a')).successCount === 1 || undefined);
    // With one parent done, the child must stay idle (the framework ticks every 250 ms; watch 2 s).
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      const child = await job('child');
      assert.equal(child.running || child.successCount > 0, false, 'child started before parent-b succeeded');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await requestJson(`${jobsUrl}/v1/scheduler/job/parent-b`, { method: 'PUT' });
    const child = await waitFor('child to succeed', async () => {
      const c = await job('child');
      return c.successCount === 1 ? c : undefined;
    }, 20_000);
    const b = await job('parent-b');
    assert.ok(Date.parse(child.lastSuccess) > Date.parse(b.lastSuccess));
    assert.equal((await stat('child')).taskStatHistory[0]?.trigger, 'dependency');
  });

  it('retries a failing job `retries` times, then delivers the failure webhook (retrying it too)', async () => {
    hooks.failFirst.set('flaky', 1);
    await add('iso8601', {
      name: 'flaky',
      command: 'echo failing >&2; exit 3',
      schedule: 'R/2099-01-01T00:00:00Z/P1D',
      retries: 2,
      mem: 32,
      failureWebhook: hooks.url('failed'),
    });
    await requestJson(`${jobsUrl}/v1/scheduler/job/flaky`, { method: 'PUT' });
    const hook = await waitFor('the failure webhook', () => hooks.hooks.find((h) => h.job === 'flaky'), 30_000);
    assert.equal(hook.event, 'job_failure');
    assert.equal(hook.attempts, 3);
    assert.ok(hooks.refused.includes('flaky'), 'the first delivery got a 500 and was retried');
    const j = await job('flaky');
    assert.equal(j.errorCount, 1);
    assert.equal(j.successCount, 0);
    assert.notEqual(j.lastError, '');
    const history = (await stat('flaky')).taskStatHistory;
    assert.equal(history[0]?.status, 'fail');
    assert.equal(history[0]?.attempts, 3);
  });

  it('rejects invalid definitions with 4xx naming the field, and keeps what is stored', async () => {
    const before = (await jobs()).map((j) => j.name).sort();
    const expectField = async (kind: 'iso8601' | 'dependency', body: unknown, field: string): Promise<void> => {
      await assert.rejects(add(kind, body), (err: unknown) => {
        assert.ok(err instanceof RemoteError, String(err));
        assert.equal(err.status, 400, err.message);
        assert.equal(err.field, field, err.message);
        return true;
      });
    };
    await expectField('iso8601', { name: 'bad', command: 'true', schedule: 'R/not-a-date/PT1S' }, 'schedule');
    await expectField('iso8601', { name: 'bad', command: 'true', schedule: 'R/2099-01-01T00:00:00Z/PT1S', retries: -1 }, 'retries');
    await expectField('iso8601', { name: 'bad', command: 'true', schedule: 'R/2099-01-01T00:00:00Z/PT1S', scheduleTimeZone: 'Nowhere/Land' }, 'scheduleTimeZone');
    await expectField('iso8601', { name: 'bad', command: 'true', schedule: '61 * * * *' }, 'schedule');
    await expectField('dependency', { name: 'bad', command: 'true', parents: ['no-such-job'] }, 'parents[0]');
    // parent-a ← child; making parent-a depend on child would be a cycle.
    await expectField('dependency', { name: 'parent-a', command: 'true', parents: ['child'] }, 'parents[0]');
    await assert.rejects(requestJson(`${jobsUrl}/v1/scheduler/job/parent-a`, { method: 'DELETE' }), (err: unknown) => err instanceof RemoteError && err.status === 409);
    assert.deepEqual((await jobs()).map((j) => j.name).sort(), before);

    // The CLI says which field is wrong, and lists what is there.
    const file = join(workDir, 'bad-job.json');
    await writeFile(file, JSON.stringify({ name: 'cli-bad', command: 'true', schedule: 'R/2099-01-01T00:00:00Z/PT1S', epsilon: 'soon' }));
    const bad = await tessera(['jobs', 'add', file, '--jobs', `127.0.0.1:${jobsPort}`]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /epsilon/);
    const good = join(workDir, 'good-job.json');
    await writeFile(good, JSON.stringify({ name: 'cli-good', command: 'true', schedule: '0 3 * * *', scheduleTimeZone: 'Europe/Berlin' }));
    const added = await tessera(['jobs', 'add', good, '--jobs', `127.0.0.1:${jobsPort}`]);
    assert.equal(added.code, 0, added.stderr);
    const list = await tessera(['jobs', 'list', '--jobs', `127.0.0.1:${jobsPort}`]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /cli-good\s+0 3 \* \* \*/);
    const removed = await tessera(['jobs', 'remove', 'cli-good', '--jobs', `127.0.0.1:${jobsPort}`]);
    assert.equal(removed.code, 0, removed.stderr);
  });
});
