import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { closeHttpServer, listenHttp, silentLogger } from '../../common/index.js';
import { createJobsApp, type JobsApiHost } from './http-api.js';
import { JobsEngine } from './jobs-engine.js';
import type { NotificationFailure } from './webhook-outbox.js';
import { ManualClock, MemoryStore } from './testing.js';

describe('jobs HTTP API', () => {
  let leading = true;
  let leader: string | undefined = '10.0.0.9:4400';
  let engine: JobsEngine;
  const server = createServer();
  let base = '';
  const failures = new Map<string, NotificationFailure>();
  const removed: string[] = [];

  before(async () => {
    engine = await JobsEngine.load({ store: new MemoryStore(), clock: new ManualClock(Date.parse('2024-01-01T00:00:00Z')), logger: silentLogger });
    const host: JobsApiHost = {
      engine: () => (leading ? engine : undefined),
      leading: () => leading,
      leaderAddress: () => leader,
      killTask: async () => undefined,
      notificationFailure: (name) => failures.get(name),
      jobRemoved: async (name) => {
        removed.push(name);
      },
    };
    server.on('request', createJobsApp(host, silentLogger).callback());
    base = `http://127.0.0.1:${await listenHttp(server, 0, '127.0.0.1')}`;
  });
  after(() => closeHttpServer(server));

  const post = (path: string, body: unknown): Promise<Response> =>
    fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, redirect: 'manual' });

  it('stores a job (204) and lists it with Chronos counters', async () => {
    assert.equal((await post('/v1/scheduler/iso8601', { name: 'a', command: 'true', schedule: 'R/2024-01-02T00:00:00Z/P1D' })).status, 204);
    const list = (await (await fetch(`${base}/v1/scheduler/jobs`)).json()) as Array<Record<string, unknown>>;
    assert.equal(list[0]?.name, 'a');
    assert.equal(list[0]?.successCount, 0);
    assert.equal(list[0]?.lastSuccess, '');
    assert.equal(list[0]?.nextRun, '2024-01-02T00:00:00.000Z');
    const stat = (await (await fetch(`${base}/v1/scheduler/job/stat/a`)).json()) as { histogram: { count: number } };
    assert.equal(stat.histogram.count, 0);
  });

  it('answers 400 naming the field, 404 for an unknown job', async () => {
    const res = await post('/v1/scheduler/dependency', { name: 'b', command: 'true', parents: ['zz'] });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { field: string } }).error.field, 'parents[0]');
    assert.equal((await fetch(`${base}/v1/scheduler/job/nope`, { method: 'PUT' })).status, 404);
  });

  it('redirects to the leader with 307 when not leading, 503 when none is known', async () => {
    leading = false;
    try {
      const res = await post('/v1/scheduler/iso8601', { name: 'c' });
      assert.equal(res.status, 307);
      assert.equal(res.headers.get('location'), 'http://10.0.0.9:4400/v1/scheduler/iso8601');
      leader = undefined;
      assert.equal((await fetch(`${base}/v1/scheduler/jobs`)).status, 503);
      assert.equal((await fetch(`${base}/health`)).status, 200);
    } finally {
      leading = true;
      leader = '10.0.0.9:4400';
    }
  });

  it('shows the last notification given up on in the job stat, and tells the host when a job goes', async () => {
    assert.equal((await post('/v1/scheduler/iso8601', { name: 'hooked', command: 'true', schedule: 'R/2024-01-02T00:00:00Z/P1D' })).status, 204);
    const stat = async (): Promise<{ lastNotificationError?: Record<string, unknown> }> =>
      (await (await fetch(`${base}/v1/scheduler/job/stat/hooked`)).json()) as { lastNotificationError?: Record<string, unknown> };
    assert.equal((await stat()).lastNotificationError, undefined);
    failures.set('hooked', { deliveryId: 'hooked:1:job_failure', job: 'hooked', event: 'job_failure', url: 'http://h/x', attempts: 5, error: '5 attempts failed: HTTP 503', at: Date.parse('2024-01-01T00:00:00Z') });
    assert.deepEqual((await stat()).lastNotificationError, {
      deliveryId: 'hooked:1:job_failure',
      event: 'job_failure',
      url: 'http://h/x',
      attempts: 5,
      error: '5 attempts failed: HTTP 503',
      at: '2024-01-01T00:00:00.000Z',
    });
    assert.equal((await fetch(`${base}/v1/scheduler/job/hooked`, { method: 'DELETE' })).status, 204);
    assert.deepEqual(removed, ['hooked']);
  });
});
