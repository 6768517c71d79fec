// What a webhook receiver gets: the JSON body of the POST for a run that ended for good, and the
// delivery id that names this notification (the same on every attempt and on every instance that sends
// it, so a receiver can drop the duplicates at-least-once delivery brings).
import type { FinishedRun } from './jobs-engine.js';

export type WebhookEvent = 'job_success' | 'job_failure';

/** The header carrying the delivery id (also in the body as `deliveryId`). */
export const DELIVERY_HEADER = 'X-Tessera-Delivery';

export interface WebhookPayload {
  /** `<runId>:<event>`, e.g. `nightly:12:job_success`; repeated verbatim on every retry and after failover. */
  deliveryId: string;
  event: WebhookEvent;
  job: string;
  runId: string;
  trigger: string;
  attempts: number;
  taskId?: string;
  agentId?: string;
  scheduledFor: string;
  startedAt?: string;
  finishedAt: string;
  message?: string;
  successCount: number;
  errorCount: number;
}

/** The job's webhook for this run's outcome, if it has one (skips notify nobody). */
export function webhookTarget(run: FinishedRun): { url: string; event: WebhookEvent } | undefined {
  const { outcome } = run.record;
  const url = outcome === 'success' ? run.job.successWebhook : outcome === 'failure' ? run.job.failureWebhook : undefined;
  return url === undefined ? undefined : { url, event: outcome === 'success' ? 'job_success' : 'job_failure' };
}

/**
 * `<runId>@<scheduledFor ms>:<event>`: the same for every attempt by any leader (all from the stored
 * run), and different for a job deleted and created again, whose run numbers start over.
 */
export function deliveryId(runId: string, scheduledFor: number, event: WebhookEvent): string {
  return `${runId}@${scheduledFor}:${event}`;
}

export function webhookPayload(run: FinishedRun): WebhookPayload {
  const r = run.record;
  const iso = (t: number): string => new Date(t).toISOString();
  const event: WebhookEvent = r.outcome === 'success' ? 'job_success' : 'job_failure';
  return {
    deliveryId: deliveryId(r.runId, r.scheduledFor, event),
    event,
    job: run.job.name,
    runId: r.runId,
    trigger: r.trigger,
    attempts: r.attempts,
    ...(r.taskId === undefined ? {} : { taskId: r.taskId }),
    ...(r.agentId === undefined ? {} : { agentId: r.agentId }),
    scheduledFor: iso(r.scheduledFor),
    ...(r.startedAt === undefined ? {} : { startedAt: iso(r.startedAt) }),
    finishedAt: iso(r.finishedAt),
    ...(r.message === undefined ? {} : { message: r.message }),
    successCount: run.status.successCount,
    errorCount: run.status.errorCount,
  };
}
