import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { closeHttpServer, listenHttp, silentLogger } from '../../common/index.js';
import { createApi, type ApiBackend } from './api.js';
import { EventBus } from './event-bus.js';
import { Keeper } from './keeper.js';
import { parseAppDefinition } from './app-definition.js';
import { ManualClock, offer, status } from './testing.js';

describe('services API (koa on loopback, keeper in memory)', () => {
  let server: Server;
  let base: string;
  let keeper: Keeper | undefined;
  const bus = new EventBus();
  before(async () => {
    const backend: ApiBackend = {
      keeper: () => keeper,
      leaderAddress: () => '10.0.0.9:8080',
      bus,
      afterChange: async () => undefined,
      info: () => ({ name: 'tessera-services' }),
      metrics: () => '',
    };
    server = createServer(createApi(backend, silentLogger).callback());
    base = `http://127.0.0.1:${await listenHttp(server, 0, '127.0.0.1')}`;
  });
  after(() => closeHttpServer(server));

  it('redirects /v2 calls to the leader with 307 while not leading', async () => {
    keeper = undefined;
    const response = await fetch(`${base}/v2/apps?embed=apps.tasks`, { redirect: 'manual' });
    assert.equal(response.status, 307);
    assert.equal(response.headers.get('location'), 'http://10.0.0.9:8080/v2/apps?embed=apps.tasks');
    assert.equal((await fetch(`${base}/ping`)).status, 200);
  });

  it('creates, partially updates, conflicts and deletes apps; streams events', async () => {
    keeper = new Keeper({ clock: new ManualClock(), emit: (e) => bus.publish(e) });
    const events = await fetch(`${base}/v2/events?event_type=deployment_info`);
    const reader = events.body?.getReader();
    const post = await fetch(`${base}/v2/apps`, { method: 'POST', body: JSON.stringify({ id: 'web', cmd: 'x', instances: 2 }) });
    assert.equal(post.status, 201);
    let text = '';
    while (!text.includes('deployment_info') && reader) text += new TextDecoder().decode((await reader.read()).value);
    assert.match(text, /event: deployment_info\ndata: \{/);
    await reader?.cancel();
    const locked = await fetch(`${base}/v2/apps/web`, { method: 'PUT', body: JSON.stringify({ instances: 3 }) });
    assert.equal(locked.status, 409);
    const forced = await fetch(`${base}/v2/apps/web?force=true`, { method: 'PUT', body: JSON.stringify({ instances: 3 }) });
    assert.equal(forced.status, 200);
    const { app } = (await (await fetch(`${base}/v2/apps/web`)).json()) as { app: { cmd: string; instances: number } };
    assert.deepEqual([app.cmd, app.instances], ['x', 3]);
    const bad = await fetch(`${base}/v2/apps/web?force=true`, { method: 'PUT', body: JSON.stringify({ instances: -1 }) });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { field: string } }).error.field, 'instances');
    assert.equal((await fetch(`${base}/v2/apps/nope`)).status, 404);
    assert.equal((await fetch(`${base}/v2/apps/web?force=true`, { method: 'DELETE' })).status, 200);
    assert.equal((await fetch(`${base}/v2/apps/web`)).status, 404);
  });

  it('kills tasks: one (replaced), one with scale (a deployment), by ids, 404 for unknown', async () => {
    keeper = new Keeper({ clock: new ManualClock(), emit: (e) => bus.publish(e) });
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 3 }));
    const ids = (keeper.offers([offer('a1')]).accept[0]?.tasks ?? []).map((t) => t.task_id.value);
    for (const id of ids) keeper.update(status(id, 'TASK_RUNNING'));
    keeper.tick();
    const [t1, t2, t3] = ids;
    const one = await fetch(`${base}/v2/apps/web/tasks/${t1}`, { method: 'DELETE' });
    assert.equal(one.status, 200);
    const oneBody = (await one.json()) as { task: { id: string }; tasks: Array<{ id: string }> };
    assert.equal(oneBody.task.id, t1);
    assert.equal(keeper.getApp('/web')?.definition.instances, 3);

    const scaled = await fetch(`${base}/v2/apps/web/tasks/${t2}?scale=true`, { method: 'DELETE' });
    assert.equal(scaled.status, 200);
    const deployment = (await scaled.json()) as { deploymentId: string; version: string };
    assert.ok(deployment.deploymentId && deployment.version);
    assert.equal(keeper.getApp('/web')?.definition.instances, 2);
    const { app } = (await (await fetch(`${base}/v2/apps/web`)).json()) as { app: { instances: number } };
    assert.equal(app.instances, 2);

    const missing = await fetch(`${base}/v2/apps/web/tasks/web.nope`, { method: 'DELETE' });
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: { message: string } }).error.message, /web\.nope/);
    assert.equal((await fetch(`${base}/v2/apps/nope/tasks`, { method: 'DELETE' })).status, 404);
    const unknownIds = await fetch(`${base}/v2/tasks/delete`, { method: 'POST', body: JSON.stringify({ ids: ['zzz.1'] }) });
    assert.equal(unknownIds.status, 404);

    // Locked by the scale deployment: POST /v2/tasks/delete?scale=true needs force.
    const locked = await fetch(`${base}/v2/tasks/delete?scale=true`, { method: 'POST', body: JSON.stringify({ ids: [t3] }) });
    assert.equal(locked.status, 409);
    const byIds = await fetch(`${base}/v2/tasks/delete?scale=true&force=true`, { method: 'POST', body: JSON.stringify({ ids: [t3] }) });
    assert.equal(byIds.status, 200);
    assert.ok(((await byIds.json()) as { deploymentId?: string }).deploymentId);
    assert.equal(keeper.getApp('/web')?.definition.instances, 1);

    const all = await fetch(`${base}/v2/apps/web/tasks`, { method: 'DELETE' });
    assert.equal(all.status, 200);
    assert.ok(((await all.json()) as { tasks: unknown[] }).tasks.length >= 1);
  });
});
