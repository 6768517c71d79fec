// The HTTP API (koa): Marathon's /v2/apps, /v2/deployments, /v2/events (SSE), /v2/info and /ping.
// Every body goes through the ajv-backed app validation; errors are common's {"error": …} with 4xx.
// While this instance does not lead, /v2 calls get a 307 to the leader (or 503 when none is known).
import Koa from 'koa';
import type { Context } from 'koa';
import { NotFoundError, ValidationError, errorMiddleware, readJsonBody, type Logger } from '../../common/index.js';
import { mergeAppUpdate, normalizeAppId, parseAppDefinition } from './app-definition.js';
import { AppLockedError, NotLeaderError } from './errors.js';
import type { EventBus } from './event-bus.js';
import type { Keeper } from './keeper.js';
import type { ServiceEvent } from './model.js';
import { appView, deploymentView, taskView } from './views.js';

export interface ApiBackend {
  /** The keeper while this instance leads; undefined otherwise. */
  keeper(): Keeper | undefined;
  leaderAddress(): string | undefined;
  bus: EventBus;
  /** After a change through the API: plan at once and wait until the change is stored. */
  afterChange(): Promise<void>;
  info(): Record<string, unknown>;
  metrics(): string;
}

const SSE_KEEPALIVE_MS = 15_000;

export function createApi(backend: ApiBackend, logger: Logger): Koa {
  const app = new Koa();
  app.use(errorMiddleware(logger));
  app.use(async (ctx) => {
    const path = ctx.path;
    if (ctx.method === 'GET' && path === '/health') {
      ctx.body = { healthy: true, leading: backend.keeper() !== undefined };
      return;
    }
    if (ctx.method === 'GET' && path === '/ping') {
      ctx.type = 'text/plain';
      ctx.body = 'pong';
      return;
    }
    if (ctx.method === 'GET' && path === '/metrics') {
      ctx.type = 'text/plain; version=0.0.4';
      ctx.body = backend.metrics();
      return;
    }
    if (ctx.method === 'GET' && path === '/v2/info') {
      ctx.body = backend.info();
      return;
    }
    if (ctx.method === 'GET' && path === '/v2/leader') {
      const leader = backend.leaderAddress();
      if (leader === undefined) throw new NotFoundError('leader', 'current');
      ctx.body = { leader };
      return;
    }
    if (!path.startsWith('/v2/')) return; // 404 from the error middleware
    const keeper = backend.keeper();
    if (!keeper) {
      const leader = backend.leaderAddress();
      if (leader === undefined) throw new NotLeaderError();
      ctx.status = 307;
      ctx.redirect(`http://${leader}${ctx.url}`);
      return;
    }
    await route(ctx, keeper, backend);
  });
  return app;
}

async function route(ctx: Context, keeper: Keeper, backend: ApiBackend): Promise<void> {
  const path = ctx.path.replace(/\/+$/, '');
  const force = ctx.query.force === 'true';
  if (path === '/v2/events' && ctx.method === 'GET') return streamEvents(ctx, backend.bus);
  if (path === '/v2/deployments' && ctx.method === 'GET') {
    ctx.body = keeper.listDeployments().map((d) => deploymentView(keeper, d));
    return;
  }
  if (path === '/v2/tasks' && ctx.method === 'GET') {
    ctx.body = { tasks: keeper.allTasks().map(taskView) };
    return;
  }
  if (path === '/v2/tasks/delete') {
    if (ctx.method !== 'POST') return methodNotAllowed(ctx);
    ctx.body = await killTaskIds(ctx, keeper, backend, force);
    return;
  }
  if (path === '/v2/apps') {
    if (ctx.method === 'GET') {
      const embed = [ctx.query.embed].flat().includes('apps.tasks');
      ctx.body = { apps: keeper.listApps().map((a) => appView(keeper, a, embed)) };
      return;
    }
    if (ctx.method === 'POST') {
      const definition = parseAppDefinition(await readJsonBody(ctx));
      const { app, deployment } = keeper.createApp(definition);
      backend.bus.publish(apiPostEvent(ctx, app.definition));
      await backend.afterChange();
      ctx.status = 201;
      ctx.set('Location', `/v2/apps${app.definition.id}`);
      ctx.body = { ...appView(keeper, app, false), deployments: [{ id: deployment.deploymentId }] };
      return;
    }
    return methodNotAllowed(ctx);
  }
  if (!path.startsWith('/v2/apps/')) return;

  let rest = path.slice('/v2/apps'.length);
  let sub: 'tasks' | 'restart' | undefined;
  // /v2/apps/{appId}/tasks/{taskId}: task ids hold no '/', app ids may (groups).
  const taskMatch = /^(.+)\/tasks\/([^/]+)$/.exec(rest);
  let taskId: string | undefined;
  if (taskMatch?.[1] !== undefined && taskMatch[2] !== undefined) {
    sub = 'tasks';
    rest = taskMatch[1];
    taskId = decodeURIComponent(taskMatch[2]);
  } else if (rest.endsWith('/tasks')) {
    sub = 'tasks';
    rest = rest.slice(0, -'/tasks'.length);
  } else if (rest.endsWith('/restart')) {
    sub = 'restart';
    rest = rest.slice(0, -'/restart'.length);
  }
  const id = normalizeAppId(decodeURIComponent(rest));
  const existing = keeper.getApp(id);

  if (sub === 'tasks') {
    if (!existing) throw new NotFoundError('app', id);
    if (ctx.method === 'GET' && taskId === undefined) {
      ctx.body = { tasks: keeper.tasksOf(id).map(taskView) };
      return;
    }
    if (ctx.method === 'GET' && taskId !== undefined) {
      const task = keeper.getTask(taskId);
      if (!task || task.appId !== id) throw new NotFoundError('task', taskId);
      ctx.body = { task: taskView(task) };
      return;
    }
    if (ctx.method !== 'DELETE') return methodNotAllowed(ctx);
    const host = typeof ctx.query.host === 'string' && ctx.query.host !== '' ? ctx.query.host : undefined;
    const { killed, deployment } = keeper.killTasks(
      id,
      { ...(taskId === undefined ? {} : { taskIds: [taskId] }), ...(host === undefined ? {} : { host }) },
      { scale: ctx.query.scale === 'true', force },
    );
    await backend.afterChange();
    // Marathon: the deployment when scaling, else the killed task(s) ({task} for one, {tasks} for all).
    if (deployment) ctx.body = deployment;
    else if (taskId !== undefined && killed[0]) ctx.body = { task: taskView(killed[0]), tasks: killed.map(taskView) };
    else ctx.body = { tasks: killed.map(taskView) };
    return;
  }
  if (sub === 'restart') {
    if (ctx.method !== 'POST') return methodNotAllowed(ctx);
    const result = keeper.restartApp(id, force);
    await backend.afterChange();
    ctx.body = result;
    return;
  }
  switch (ctx.method) {
    case 'GET':
      if (!existing) throw new NotFoundError('app', id);
      ctx.body = { app: appView(keeper, existing, true) };
      return;
    case 'PUT': {
      const body = await readJsonBody(ctx);
      const definition = existing ? mergeAppUpdate(existing.definition, body, id) : parseAppDefinition(body, id);
      const result = keeper.updateApp(definition, force);
      backend.bus.publish(apiPostEvent(ctx, definition));
      await backend.afterChange();
      ctx.body = result;
      return;
    }
    case 'DELETE': {
      const result = keeper.deleteApp(id, force);
      await backend.afterChange();
      ctx.body = result;
      return;
    }
    default:
      return methodNotAllowed(ctx);
  }
}

/**
 * POST /v2/tasks/delete {"ids": [...]}: kills tasks of any apps; unknown ids are a 404 and kill nothing.
 * With ?scale=true each app is scaled down by its killed tasks (one deployment per app; the answer names
 * the first, and all of them in `deploymentIds`).
 */
async function killTaskIds(ctx: Context, keeper: Keeper, backend: ApiBackend, force: boolean): Promise<unknown> {
  const body = await readJsonBody(ctx);
  const ids = (body as { ids?: unknown } | null)?.ids;
  if (!Array.isArray(ids) || !ids.every((x): x is string => typeof x === 'string')) throw new ValidationError('ids', 'must be a list of task ids');
  const byApp = new Map<string, string[]>();
  for (const taskId of ids) {
    const task = keeper.getTask(taskId);
    if (!task) throw new NotFoundError('task', taskId);
    byApp.set(task.appId, [...(byApp.get(task.appId) ?? []), taskId]);
  }
  const scale = ctx.query.scale === 'true';
  // All or nothing: a locked app refuses before any other app's task is killed.
  if (scale && !force) {
    for (const appId of byApp.keys()) {
      const running = keeper.deploymentsOf(appId);
      if (running.length > 0) throw new AppLockedError(appId, running.map((d) => d.id));
    }
  }
  const killed: unknown[] = [];
  const deployments: Array<{ deploymentId: string; version: string }> = [];
  for (const [appId, taskIds] of byApp) {
    const result = keeper.killTasks(appId, { taskIds }, { scale, force });
    killed.push(...result.killed.map(taskView));
    if (result.deployment) deployments.push(result.deployment);
  }
  await backend.afterChange();
  const first = deployments[0];
  if (scale && first) return { ...first, deploymentIds: deployments.map((d) => d.deploymentId) };
  return { tasks: killed };
}

function methodNotAllowed(ctx: Context): void {
  ctx.status = 405;
  ctx.body = { error: { code: 'METHOD_NOT_ALLOWED', message: `${ctx.method} is not allowed on ${ctx.path}` } };
}

function apiPostEvent(ctx: Context, appDefinition: unknown): ServiceEvent {
  return { eventType: 'api_post_event', timestamp: new Date().toISOString(), clientIp: ctx.ip, uri: ctx.path, appDefinition };
}

/** Server-sent events: `event: <eventType>` + `data: <json>`; `?event_type=a&event_type=b` filters. */
function streamEvents(ctx: Context, bus: EventBus): void {
  const types = [ctx.query.event_type].flat().filter((t): t is string => typeof t === 'string' && t !== '');
  if (types.some((t) => !/^[a-z_]+$/.test(t))) throw new ValidationError('event_type', 'must be event type names like status_update_event');
  // Written to the raw response: koa would report a client going away as a stream error.
  ctx.respond = false;
  const res = ctx.res;
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  res.write(': connected\n\n');
  const unsubscribe = bus.subscribe((event) => {
    if (types.length > 0 && !types.includes(event.eventType)) return;
    res.write(`event: ${event.eventType}\ndata: ${JSON.stringify(event)}\n\n`);
  });
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), SSE_KEEPALIVE_MS);
  keepAlive.unref();
  const close = (): void => {
    clearInterval(keepAlive);
    unsubscribe();
    res.end();
  };
  ctx.req.once('close', close);
  ctx.res.once('close', close);
}
