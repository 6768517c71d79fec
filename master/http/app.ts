// The master's HTTP surface: task API, operator API, metrics, and the internal agent endpoints.
// Routes only parse and delegate; every rule lives behind MasterApi.
import Koa from 'koa';
import { Router } from '@koa/router';
import {
  INTERNAL_PATHS,
  TASK_STATES,
  assertNever,
  errorBody,
  ValidationError,
  errorMiddleware,
  readJsonBody,
  type HeartbeatResponse,
  type Logger,
  type RegisterResponse,
  type StatusUpdateBatchResponse,
  type StatusUpdateResponse,
  type TaskState,
  type TaskView,
} from '../../common/index.js';
import type { MetricsSnapshot } from '../metrics.js';
import { schedulerRoute, type SchedulerApi } from '../scheduler/index.js';
import type { FollowerState, MasterState } from '../operator-state.js';

/** Where a call that needs the leader goes. */
export type Routing =
  | { kind: 'here' }
  /** 'ip:port' of the leading master. */
  | { kind: 'redirect'; address: string }
  | { kind: 'unavailable'; message: string }
  /** Just elected, loading the registry: the call waits for that (bounded), then is routed again. */
  | { kind: 'wait'; settled: Promise<void> };

export interface MasterApi {
  routing(): Routing;
  /** The Mesos v1 scheduler API (POST /api/v1/scheduler). */
  readonly scheduler: SchedulerApi;
  /** Framework authentication (--credentials): the principal of an Authorization header, or 401. */
  readonly authenticate?: (authorization: string | undefined) => string | undefined;
  /** Seconds between HEARTBEAT events on subscriber streams. */
  readonly frameworkHeartbeatIntervalMs?: number;
  submitTask(body: unknown): Promise<TaskView>;
  listTasks(state?: TaskState): TaskView[];
  getTask(taskId: string): TaskView;
  /** The task once it has more than `index` statuses or has ended, or after `timeoutMs` as it is. */
  waitTask(taskId: string, index: number, timeoutMs: number): Promise<TaskView>;
  killTask(taskId: string): Promise<TaskView>;
  state(): MasterState | FollowerState;
  metricsSnapshot(): MetricsSnapshot;
  prometheus(): Promise<{ contentType: string; text: string }>;
  register(body: unknown): Promise<RegisterResponse>;
  heartbeat(agentId: string): HeartbeatResponse;
  statusUpdate(agentId: string, body: unknown): StatusUpdateResponse | StatusUpdateBatchResponse;
}

/** Router patterns derived from common's path builders, so the two cannot drift. */
const ID = '__agent_id__';
export const ROUTES = {
  heartbeat: INTERNAL_PATHS.heartbeat(ID).replace(ID, ':id'),
  status: INTERNAL_PATHS.status(ID).replace(ID, ':id'),
} as const;

export function createApp(api: MasterApi, logger: Logger): Koa {
  const app = new Koa();
  const router = new Router();

  router.post('/api/v1/tasks', async (ctx) => {
    const view = await api.submitTask(await readJsonBody(ctx));
    ctx.status = 201;
    ctx.set('Location', `/api/v1/tasks/${encodeURIComponent(view.task_id)}`);
    ctx.body = view;
  });
  router.get('/api/v1/tasks', (ctx) => {
    ctx.body = { tasks: api.listTasks(parseStateFilter(ctx.query.state)) };
  });
  // A blocking query when `index` is given (Nomad's pattern): answers once the task has more than
  // `index` statuses (or has ended), or after `wait` seconds (default 30, at most 300) as it is then.
  // X-Tessera-Index carries the count to pass next time.
  router.get('/api/v1/tasks/:id', async (ctx) => {
    const taskId = ctx.params.id ?? '';
    const blocking = parseBlockingQuery(ctx.query.index, ctx.query.wait);
    const view = blocking ? await api.waitTask(taskId, blocking.index, blocking.waitMs) : api.getTask(taskId);
    ctx.set('X-Tessera-Index', String(view.statuses.length));
    ctx.body = view;
  });
  router.delete('/api/v1/tasks/:id', async (ctx) => {
    const view = await api.killTask(ctx.params.id ?? '');
    ctx.status = 202;
    ctx.body = view;
  });

  router.get('/master/state', (ctx) => {
    ctx.body = api.state();
  });
  const health = (ctx: Koa.Context): void => {
    ctx.body = { healthy: true };
  };
  router.get('/master/health', health);
  router.get('/health', health);
  router.get('/metrics/snapshot', (ctx) => {
    ctx.body = api.metricsSnapshot();
  });
  router.get('/metrics', async (ctx) => {
    const { contentType, text } = await api.prometheus();
    ctx.type = contentType;
    ctx.body = text;
  });

  router.post(INTERNAL_PATHS.register, async (ctx) => {
    ctx.body = await api.register(await readJsonBody(ctx));
  });
  router.post(ROUTES.heartbeat, (ctx) => {
    // The body, if any, carries nothing the master needs.
    ctx.body = api.heartbeat(ctx.params.id ?? '');
  });
  router.post(ROUTES.status, async (ctx) => {
    ctx.body = api.statusUpdate(ctx.params.id ?? '', await readJsonBody(ctx));
  });

  app.use(errorMiddleware(logger));
  app.use(leaderOnly(api));
  app.use(
    schedulerRoute(api.scheduler, {
      logger,
      ...(api.authenticate ? { authenticate: api.authenticate } : {}),
      ...(api.frameworkHeartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: api.frameworkHeartbeatIntervalMs }),
    }),
  );
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/** Answered by any master; everything else is the leader's. */
const LOCAL_PATHS = new Set(['/health', '/master/health', '/metrics', '/metrics/snapshot', '/master/state']);

/**
 * A master that does not lead sends callers to the one that does (307 keeps the method and body, as
 * Mesos's `Location: //host:port/path`), or answers 503 while no leader is known.
 */
function leaderOnly(api: MasterApi): Koa.Middleware {
  return async (ctx, next) => {
    if (LOCAL_PATHS.has(ctx.path)) return next();
    let route = api.routing();
    if (route.kind === 'wait') {
      await route.settled;
      route = api.routing();
    }
    switch (route.kind) {
      case 'here':
        return next();
      case 'redirect':
        ctx.status = 307;
        ctx.set('Location', `//${route.address}${ctx.url}`);
        ctx.body = errorBody('NOT_LEADER', `this master does not lead; the leader is ${route.address}`);
        return undefined;
      case 'unavailable':
      case 'wait':
        ctx.status = 503;
        ctx.set('Retry-After', '1');
        ctx.body = errorBody('NOT_LEADER', route.kind === 'wait' ? 'this master is still taking over as leader; retry shortly' : route.message);
        return undefined;
      default:
        return assertNever(route, 'routing');
    }
  };
}

function parseStateFilter(raw: string | string[] | undefined): TaskState | undefined {
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || value === '') return undefined;
  const state = (TASK_STATES as readonly string[]).includes(value) ? (value as TaskState) : undefined;
  if (!state) throw new ValidationError('state', `must be one of ${TASK_STATES.join(', ')}`);
  return state;
}

const MAX_WAIT_SECONDS = 300;

/** `?index=N[&wait=S]` → a blocking read; neither → undefined (a plain read). */
export function parseBlockingQuery(index: unknown, wait: unknown): { index: number; waitMs: number } | undefined {
  if (index === undefined) {
    if (wait !== undefined) throw new ValidationError('wait', 'needs index (the X-Tessera-Index of the previous answer)');
    return undefined;
  }
  if (typeof index !== 'string' || !/^\d{1,9}$/.test(index)) throw new ValidationError('index', 'must be a non-negative integer');
  let waitSeconds = 30;
  if (wait !== undefined) {
    const n = typeof wait === 'string' && wait.trim() !== '' ? Number(wait) : NaN;
    if (!Number.isFinite(n) || n < 0 || n > MAX_WAIT_SECONDS) throw new ValidationError('wait', `must be seconds between 0 and ${MAX_WAIT_SECONDS}`);
    waitSeconds = n;
  }
  return { index: Number(index), waitMs: Math.round(waitSeconds * 1000) };
}
