// The Chronos-shaped HTTP API (koa). A non-leading instance answers /v1 calls with 307 to the leader
// (503 while none is known); /health, /metrics and /leader answer everywhere.
import Koa, { type Context } from 'koa';
import { Router } from '@koa/router';
import { errorBody, errorMiddleware, readJsonBody, type Logger } from '../../common/index.js';
import { NotLeadingError } from './errors.js';
import type { JobDefinition } from './job-definition.js';
import type { JobStatus, RunRecord } from './job-status.js';
import type { JobEntry, JobsEngine } from './jobs-engine.js';
import type { NotificationFailure } from './webhook-outbox.js';

export interface JobsApiHost {
  /** The engine while this instance leads and has loaded its state. */
  engine(): JobsEngine | undefined;
  leading(): boolean;
  /** `host:port` of the leader's API, if known. */
  leaderAddress(): string | undefined;
  /** Kills the task of a deleted job's run in progress. */
  killTask(taskId: string, agentId?: string): Promise<void>;
  /** The job's webhook notification last given up on, if any (shown in its stat). */
  notificationFailure?(name: string): NotificationFailure | undefined;
  /** A job was deleted (forget its notification failure). */
  jobRemoved?(name: string): Promise<void>;
}

/** A job as GET /v1/scheduler/jobs lists it: the definition plus Chronos's counters. */
export interface JobView extends Omit<JobDefinition, 'parents' | 'schedule'> {
  schedule?: string;
  parents?: string[];
  async: boolean;
  executor: string;
  softError: boolean;
  successCount: number;
  errorCount: number;
  errorsSinceLastSuccess: number;
  /** ISO 8601, or "" when never (as Chronos). */
  lastSuccess: string;
  lastError: string;
  /** Tessera's own: the next scheduled occurrence ("" when none), and the run in progress. */
  nextRun: string;
  running: boolean;
}

export function jobView({ job, status }: JobEntry): JobView {
  const iso = (t: number | undefined): string => (t === undefined ? '' : new Date(t).toISOString());
  return {
    ...job,
    async: false,
    executor: '',
    softError: false,
    successCount: status.successCount,
    errorCount: status.errorCount,
    errorsSinceLastSuccess: status.errorsSinceLastSuccess,
    lastSuccess: iso(status.lastSuccess),
    lastError: iso(status.lastError),
    nextRun: job.schedule === undefined || job.disabled ? '' : iso(status.nextDueAt),
    running: status.active !== undefined,
  };
}

export interface JobStatView {
  histogram: Record<'count' | 'mean' | 'median' | '75thPercentile' | '95thPercentile' | '98thPercentile' | '99thPercentile', number>;
  taskStatHistory: Array<{
    taskId: string;
    jobName: string;
    runId: string;
    trigger: string;
    slaveId: string;
    status: 'success' | 'fail' | 'skipped';
    attempts: number;
    scheduledFor: string;
    startTime: string;
    endTime: string;
    durationSeconds: number | null;
    message: string;
  }>;
  /** Tessera's own: the last webhook notification given up on (refused, or its attempts used up). */
  lastNotificationError?: { deliveryId: string; event: string; url: string; attempts: number; error: string; at: string };
}

/** Run durations (seconds) and the recent runs, newest first — Chronos's stat shape. */
export function jobStats(name: string, status: JobStatus, notificationFailure?: NotificationFailure): JobStatView {
  const runs = status.history.filter((r: RunRecord) => r.outcome !== 'skipped' && r.startedAt !== undefined);
  const durations = runs.map((r) => (r.finishedAt - (r.startedAt as number)) / 1000).sort((a, b) => a - b);
  const pct = (p: number): number => (durations.length === 0 ? 0 : (durations[Math.min(durations.length - 1, Math.ceil(p * durations.length) - 1)] ?? 0));
  const mean = durations.length === 0 ? 0 : durations.reduce((a, b) => a + b, 0) / durations.length;
  const iso = (t: number | undefined): string => (t === undefined ? '' : new Date(t).toISOString());
  return {
    histogram: {
      count: durations.length,
      mean,
      median: pct(0.5),
      '75thPercentile': pct(0.75),
      '95thPercentile': pct(0.95),
      '98thPercentile': pct(0.98),
      '99thPercentile': pct(0.99),
    },
    taskStatHistory: [...status.history].reverse().map((r) => ({
      taskId: r.taskId ?? '',
      jobName: name,
      runId: r.runId,
      trigger: r.trigger,
      slaveId: r.agentId ?? '',
      status: r.outcome === 'success' ? 'success' : r.outcome === 'failure' ? 'fail' : 'skipped',
      attempts: r.attempts,
      scheduledFor: iso(r.scheduledFor),
      startTime: iso(r.startedAt),
      endTime: iso(r.finishedAt),
      durationSeconds: r.startedAt === undefined ? null : (r.finishedAt - r.startedAt) / 1000,
      message: r.count === undefined ? (r.message ?? '') : `${r.message ?? ''} (${r.count} occurrences)`,
    })),
    ...(notificationFailure === undefined
      ? {}
      : {
          lastNotificationError: {
            deliveryId: notificationFailure.deliveryId,
            event: notificationFailure.event,
            url: notificationFailure.url,
            attempts: notificationFailure.attempts,
            error: notificationFailure.error,
            at: iso(notificationFailure.at),
          },
        }),
  };
}

export function createJobsApp(host: JobsApiHost, logger: Logger): Koa {
  const app = new Koa();
  const router = new Router();
  const engine = (): JobsEngine => {
    const e = host.engine();
    if (!e) throw new NotLeadingError();
    return e;
  };

  router.get('/health', (ctx) => {
    ctx.body = { healthy: true, leading: host.leading() };
  });
  router.get('/leader', (ctx) => {
    ctx.body = { leader: host.leaderAddress() ?? '' };
  });
  router.get('/metrics', (ctx) => {
    const e = host.engine();
    const entries = e?.list() ?? [];
    const lines = [
      '# HELP tessera_jobs_leading Whether this instance leads (1) or not (0).',
      '# TYPE tessera_jobs_leading gauge',
      `tessera_jobs_leading ${host.leading() ? 1 : 0}`,
      '# HELP tessera_jobs_jobs Jobs defined.',
      '# TYPE tessera_jobs_jobs gauge',
      `tessera_jobs_jobs ${entries.length}`,
      '# HELP tessera_jobs_running Jobs with a run in progress.',
      '# TYPE tessera_jobs_running gauge',
      `tessera_jobs_running ${entries.filter((x) => x.status.active).length}`,
      '# HELP tessera_jobs_successes_total Successful runs, all jobs.',
      '# TYPE tessera_jobs_successes_total counter',
      `tessera_jobs_successes_total ${entries.reduce((n, x) => n + x.status.successCount, 0)}`,
      '# HELP tessera_jobs_errors_total Failed runs (after retries), all jobs.',
      '# TYPE tessera_jobs_errors_total counter',
      `tessera_jobs_errors_total ${entries.reduce((n, x) => n + x.status.errorCount, 0)}`,
    ];
    ctx.type = 'text/plain; version=0.0.4';
    ctx.body = `${lines.join('\n')}\n`;
  });

  router.post('/v1/scheduler/iso8601', async (ctx) => {
    await engine().upsert(await readJsonBody(ctx), 'scheduled');
    ctx.status = 204;
  });
  router.post('/v1/scheduler/dependency', async (ctx) => {
    await engine().upsert(await readJsonBody(ctx), 'dependent');
    ctx.status = 204;
  });
  router.get('/v1/scheduler/jobs', (ctx) => {
    ctx.body = engine().list().map(jobView);
  });
  router.get('/v1/scheduler/job/stat/:name', (ctx) => {
    const name = ctx.params.name ?? '';
    ctx.body = jobStats(name, engine().get(name).status, host.notificationFailure?.(name));
  });
  router.get('/v1/scheduler/job/:name', (ctx) => {
    ctx.body = jobView(engine().get(ctx.params.name ?? ''));
  });
  router.put('/v1/scheduler/job/:name', async (ctx) => {
    await engine().runNow(ctx.params.name ?? '');
    ctx.status = 204;
  });
  router.delete('/v1/scheduler/job/:name', async (ctx) => {
    const name = ctx.params.name ?? '';
    const active = await engine().remove(name);
    await host.jobRemoved?.(name);
    if (active?.taskId) await host.killTask(active.taskId, active.agentId).catch((err: unknown) => logger.warn({ err }, 'kill failed'));
    ctx.status = 204;
  });

  app.use(errorMiddleware(logger));
  app.use(async (ctx: Context, next) => {
    if (!ctx.path.startsWith('/v1/')) return next();
    if (!host.leading()) {
      const leader = host.leaderAddress();
      if (leader === undefined) {
        ctx.status = 503;
        ctx.body = errorBody('NOT_LEADER', 'no leading jobs framework instance is known yet; retry shortly');
        return;
      }
      ctx.redirect(`http://${leader}${ctx.url}`);
      ctx.status = 307; // koa's redirect says 302; 307 keeps the method and body
      return;
    }
    if (!host.engine()) {
      ctx.status = 503;
      ctx.body = errorBody('UNAVAILABLE', 'this instance was just elected and is still loading its state; retry shortly');
      return;
    }
    return next();
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
