// Webhooks: a job's `successWebhook` / `failureWebhook` gets a JSON POST when a run ends for good,
// retried with exponential backoff while the receiver fails (5xx or unreachable; a 4xx is final).
import { delay, errorMessage, systemClock, type Clock, type Logger } from '../../common/index.js';
import type { FinishedRun } from './jobs-engine.js';

export interface WebhookPayload {
  event: 'job_success' | 'job_failure';
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

export interface WebhookNotifierOptions {
  logger: Logger;
  clock?: Clock;
  /** Deliveries tried per event (default 5). */
  attempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
}

export function webhookPayload(run: FinishedRun): WebhookPayload {
  const r = run.record;
  const iso = (t: number): string => new Date(t).toISOString();
  return {
    event: r.outcome === 'success' ? 'job_success' : 'job_failure',
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

export class WebhookNotifier {
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: WebhookNotifierOptions) {}

  /** Sends the run's webhook, if its job has one for this outcome; never throws. */
  notify(run: FinishedRun): void {
    const url = run.record.outcome === 'success' ? run.job.successWebhook : run.record.outcome === 'failure' ? run.job.failureWebhook : undefined;
    if (url === undefined) return;
    const delivery = this.deliver(url, webhookPayload(run));
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }

  /** Stops retrying; waits for deliveries in flight to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.pending]);
  }

  private async deliver(url: string, payload: WebhookPayload): Promise<void> {
    const attempts = this.options.attempts ?? 5;
    const base = this.options.baseDelayMs ?? 500;
    for (let i = 1; i <= attempts && !this.stopped; i++) {
      let why: string;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) {
          this.options.logger.info({ url, job: payload.job, event: payload.event, attempt: i }, 'webhook delivered');
          return;
        }
        why = `HTTP ${response.status}`;
        if (response.status < 500) {
          this.options.logger.warn({ url, job: payload.job, why }, 'webhook refused; not retrying');
          return;
        }
      } catch (err) {
        why = errorMessage(err);
      }
      this.options.logger.warn({ url, job: payload.job, attempt: i, why }, 'webhook delivery failed');
      if (i < attempts && !this.stopped) await delay(base * 2 ** (i - 1), this.options.clock ?? systemClock);
    }
  }
}
