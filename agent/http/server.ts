// The agent's HTTP API (Koa + @koa/router): operator endpoints and the master's launch/kill calls.
//   GET  /state                       AgentState
//   GET  /monitor/statistics          TaskStatisticsEntry[]
//   GET  /files/read?path=&offset=&length=   {"data", "offset"}
//   GET  /health                      {"status": "ok", "registered": bool}
//   GET  /metrics                     Prometheus text
//   POST /internal/v1/tasks           LaunchRequest → 202 {"task_id"}
//   POST /internal/v1/tasks/:id/kill  KillRequest (body optional) → 202 {"task_id"}
//   POST /internal/v1/acknowledgements  AcknowledgeRequest → 200 {"ok": true}
import http from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import type { Registry } from 'prom-client';
import {
  INTERNAL_PATHS,
  closeHttpServer,
  compileValidator,
  errorMiddleware,
  killRequestSchema,
  launchRequestSchema,
  listenHttp,
  readJsonBody,
  type KillRequest,
  type Logger,
} from '../../common/index.js';
import type { TaskManager } from '../tasks/index.js';
import { applyAcknowledgements, validateAcknowledgeRequest, type Acknowledge } from './acknowledgements.js';
import { parseReadQuery, readSandboxFile } from './files.js';
import type { AgentState } from './state-view.js';

export interface AgentHttpOptions {
  host: string;
  port: number;
  logger: Logger;
  taskManager: TaskManager;
  sandboxesDir: string;
  metrics: Registry;
  state: () => AgentState;
  registered: () => boolean;
  /** A framework acknowledged a status update (StatusUpdateManager.acknowledge). */
  acknowledge: Acknowledge;
}

const validateLaunch = compileValidator(launchRequestSchema);
const validateKill = compileValidator(killRequestSchema);
/** The router's pattern for INTERNAL_PATHS.kill, derived from it so the two cannot drift. */
const KILL_ROUTE = INTERNAL_PATHS.kill('TASKID').replace('TASKID', ':taskId');

export function createApp(options: AgentHttpOptions): Koa {
  const app = new Koa();
  const router = new Router();

  router.get('/state', (ctx) => {
    ctx.body = options.state();
  });

  router.get('/monitor/statistics', async (ctx) => {
    ctx.body = await options.taskManager.statistics();
  });

  router.get('/files/read', async (ctx) => {
    const request = parseReadQuery(ctx.query);
    ctx.body = await readSandboxFile(options.sandboxesDir, request);
  });

  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok', registered: options.registered() };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = options.metrics.contentType;
    ctx.body = await options.metrics.metrics();
  });

  router.post(INTERNAL_PATHS.launch, async (ctx) => {
    const { task } = validateLaunch(await readJsonBody(ctx));
    await options.taskManager.launch(task);
    ctx.status = 202;
    ctx.body = { task_id: task.task_id };
  });

  router.post(KILL_ROUTE, async (ctx) => {
    const taskId = ctx.params.taskId ?? '';
    // The body is optional: an empty POST kills with the task's own grace period.
    const hasBody = (ctx.request.length ?? 0) > 0 || ctx.get('transfer-encoding') !== '';
    const body: KillRequest = hasBody ? validateKill(await readJsonBody(ctx)) : {};
    await options.taskManager.kill(taskId, body.grace_period_seconds);
    ctx.status = 202;
    ctx.body = { task_id: taskId };
  });

  router.post(INTERNAL_PATHS.acknowledge, async (ctx) => {
    const request = validateAcknowledgeRequest(await readJsonBody(ctx));
    const { applied } = await applyAcknowledgements(options.acknowledge, request);
    options.logger.debug({ received: request.acknowledgements.length, applied }, 'status update acknowledgements');
    ctx.body = { ok: true };
  });

  app.use(errorMiddleware(options.logger));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

export interface RunningServer {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: AgentHttpOptions): Promise<RunningServer> {
  const app = createApp(options);
  const server = http.createServer(app.callback());
  const port = await listenHttp(server, options.port, options.host);
  return { server, port, close: () => closeHttpServer(server) };
}
