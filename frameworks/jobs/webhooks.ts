// Webhooks: a job's `successWebhook` / `failureWebhook` gets a JSON POST when a run ends for good,
// retried with exponential backoff while the receiver fails (5xx or unreachable; a 4xx is final).
// Delivery is at least once across failover: the notification is stored in the outbox (webhook-outbox.ts)
// before the first attempt, its attempt count and next attempt time after every failed one, and it is
// removed once delivered or given up; a new leader resumes what is left. Every POST carries the same
// delivery id (header and body) so receivers can drop duplicates. Only the leader sends: stop() ends
// all sending at once, and `leading()` is asked right before every attempt.
import { assertNever, errorMessage, systemClock, type Clock, type Logger, type TimerHandle } from '../../common/index.js';
import type { FinishedRun, KeyValueStore } from './jobs-engine.js';
import { WebhookOutbox, type NotificationFailure, type OutboxEntry } from './webhook-outbox.js';
import { DELIVERY_HEADER, deliveryId, webhookPayload, webhookTarget } from './webhook-payload.js';

/** The part of `fetch` used (tests pass a fake). */
export type WebhookFetch = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<Response>;

export interface WebhookNotifierOptions {
  /** Where the outbox lives (the framework's state store). */
  store: KeyValueStore;
  logger: Logger;
  clock?: Clock;
  /** Attempts per notification (default 5). */
  attempts?: number;
  /** Pause after the first failed attempt (default 500 ms), doubling after each further one. */
  baseDelayMs?: number;
  /** Longest pause between attempts (default 60 s). */
  maxDelayMs?: number;
  /** Per attempt (default 10 s). */
  timeoutMs?: number;
  /** Asked right before every attempt: a deposed instance never sends (default: always leading). */
  leading?: () => boolean;
  fetch?: WebhookFetch;
}

type AttemptOutcome = { kind: 'delivered'; status: number } | { kind: 'refused'; why: string } | { kind: 'failed'; why: string };

export class WebhookNotifier {
  private readonly outbox: WebhookOutbox;
  private readonly clock: Clock;
  /** Owed notifications this instance knows of, by delivery id. */
  private readonly entries = new Map<string, OutboxEntry>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly inFlight = new Map<string, AbortController>();
  /** Every async step under way (attempts, store writes), for stop() to wait on. */
  private readonly work = new Set<Promise<unknown>>();
  private readonly failures = new Map<string, NotificationFailure>();
  private stopped = false;

  constructor(private readonly options: WebhookNotifierOptions) {
    this.outbox = new WebhookOutbox(options.store);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Loads the outbox (and the recorded failures) and resumes every owed notification with its remaining
   * attempts, at its stored next attempt time. What a newly elected leader does first. Returns how many.
   */
  async resume(): Promise<number> {
    const [entries, failures] = await Promise.all([this.outbox.load(), this.outbox.failures()]);
    for (const f of failures) this.failures.set(f.job, f);
    let resumed = 0;
    for (const entry of entries) {
      if (this.entries.has(entry.deliveryId)) continue;
      this.entries.set(entry.deliveryId, entry);
      this.schedule(entry);
      resumed++;
    }
    if (resumed > 0) this.options.logger.info({ deliveries: entries.map((e) => e.deliveryId) }, 'resuming webhook deliveries from the outbox');
    return resumed;
  }

  /**
   * Stores the run's notification in the outbox, if its job has a webhook for this outcome. The engine
   * awaits this before it writes the run's record (JobsEngineOptions.beforeFinish). A notification already
   * owed (a resumed one whose run a new leader finished again) is kept as it is.
   */
  async persist(run: FinishedRun): Promise<void> {
    const target = webhookTarget(run);
    if (!target) return;
    const id = deliveryId(run.record.runId, run.record.scheduledFor, target.event);
    if (this.entries.has(id)) return;
    const now = this.clock.now();
    const entry: OutboxEntry = { deliveryId: id, url: target.url, payload: webhookPayload(run), attempts: 0, nextAttemptAt: now, createdAt: now };
    await this.outbox.put(entry);
    this.entries.set(id, entry);
  }

  /** Starts delivering the run's notification (storing it first if persist() was not called); never throws. */
  notify(run: FinishedRun): void {
    if (this.stopped) return;
    const target = webhookTarget(run);
    if (!target) return;
    const id = deliveryId(run.record.runId, run.record.scheduledFor, target.event);
    const known = this.entries.get(id);
    if (known) {
      this.schedule(known);
      return;
    }
    this.track(
      this.persist(run).then(
        () => {
          const entry = this.entries.get(id);
          if (entry) this.schedule(entry);
        },
        (err: unknown) => this.options.logger.error({ deliveryId: id, err: errorMessage(err) }, 'cannot store the webhook notification; not sending it'),
      ),
    );
  }

  /** The notification last given up on for this job, if any. */
  lastFailure(job: string): NotificationFailure | undefined {
    return this.failures.get(job);
  }

  /** Notifications still owed (delivering or waiting to retry). */
  pending(): OutboxEntry[] {
    return [...this.entries.values()];
  }

  /** Forgets a removed job's recorded failure (its owed notifications are still delivered). */
  async forgetJob(job: string): Promise<void> {
    if (!this.failures.delete(job)) return;
    await this.outbox.forgetFailure(job).catch((err: unknown) => this.options.logger.warn({ job, err: errorMessage(err) }, 'cannot remove the notification failure record'));
  }

  /**
   * Stops at once (deposed or shutting down): no further attempt, requests in flight aborted. What is
   * owed stays in the outbox for the next leader. Resolves once nothing of this notifier runs any more.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const handle of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const controller of this.inFlight.values()) controller.abort(new Error('the webhook notifier stopped (no longer leading)'));
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  private track(p: Promise<unknown>): void {
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
  }

  /** Arranges the entry's next attempt (now if due), unless one is already arranged or under way. */
  private schedule(entry: OutboxEntry): void {
    const id = entry.deliveryId;
    if (this.stopped || this.timers.has(id) || this.inFlight.has(id)) return;
    const wait = entry.nextAttemptAt - this.clock.now();
    if (wait <= 0) {
      this.track(this.attempt(entry));
      return;
    }
    this.timers.set(
      id,
      this.clock.setTimeout(() => {
        this.timers.delete(id);
        this.track(this.attempt(entry));
      }, wait),
    );
  }

  private async attempt(entry: OutboxEntry): Promise<void> {
    const { logger } = this.options;
    const id = entry.deliveryId;
    const ctx = { deliveryId: id, url: entry.url, job: entry.payload.job };
    if (this.stopped) return;
    if (this.options.leading && !this.options.leading()) {
      logger.info(ctx, 'not leading: webhook not sent (the leader delivers it)');
      return;
    }
    const controller = new AbortController();
    this.inFlight.set(id, controller);
    let outcome: AttemptOutcome;
    try {
      outcome = await this.send(entry, controller.signal);
    } finally {
      this.inFlight.delete(id);
    }
    const attempt = entry.attempts + 1;
    switch (outcome.kind) {
      case 'delivered':
        logger.info({ ...ctx, attempt, status: outcome.status }, 'webhook delivered');
        // Even when stopped meanwhile: a remove that the store refuses only means the next leader sends it again.
        await this.settle(entry);
        return;
      case 'refused':
        if (this.stopped) return;
        await this.giveUp({ ...entry, attempts: attempt }, outcome.why, 'the receiver refused it');
        return;
      case 'failed': {
        if (this.stopped) return;
        const max = this.options.attempts ?? 5;
        logger.warn({ ...ctx, attempt, of: max, why: outcome.why }, 'webhook delivery failed');
        if (attempt >= max) {
          await this.giveUp({ ...entry, attempts: attempt }, outcome.why, `${attempt} attempts failed`);
          return;
        }
        const pause = Math.min(this.options.maxDelayMs ?? 60_000, (this.options.baseDelayMs ?? 500) * 2 ** (attempt - 1));
        const next: OutboxEntry = { ...entry, attempts: attempt, nextAttemptAt: this.clock.now() + pause, lastError: outcome.why };
        this.entries.set(id, next);
        // If the store refuses (deposed, ZooKeeper trouble), keep going here; the stored entry only lags behind.
        await this.outbox.put(next).catch((err: unknown) => logger.warn({ ...ctx, err: errorMessage(err) }, 'cannot store the webhook attempt count'));
        this.schedule(next);
        return;
      }
      default:
        assertNever(outcome, 'webhook attempt outcome');
    }
  }

  private async send(entry: OutboxEntry, abort: AbortSignal): Promise<AttemptOutcome> {
    const send = this.options.fetch ?? fetch;
    try {
      const response = await send(entry.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [DELIVERY_HEADER]: entry.deliveryId },
        body: JSON.stringify(entry.payload),
        signal: AbortSignal.any([abort, AbortSignal.timeout(this.options.timeoutMs ?? 10_000)]),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { kind: 'delivered', status: response.status };
      const why = `HTTP ${response.status}`;
      // 4xx: the receiver will not take it (bad URL, gone); 408 and 429 say "later", so retry those.
      if (response.status < 500 && response.status !== 408 && response.status !== 429) return { kind: 'refused', why };
      return { kind: 'failed', why };
    } catch (err) {
      return { kind: 'failed', why: errorMessage(err) };
    }
  }

  private async giveUp(entry: OutboxEntry, why: string, summary: string): Promise<void> {
    const failure: NotificationFailure = {
      deliveryId: entry.deliveryId,
      job: entry.payload.job,
      event: entry.payload.event,
      url: entry.url,
      attempts: entry.attempts,
      error: `${summary}: ${why}`,
      at: this.clock.now(),
    };
    this.failures.set(failure.job, failure);
    this.options.logger.error({ ...failure }, 'webhook notification given up');
    await this.outbox.recordFailure(failure).catch((err: unknown) => this.options.logger.warn({ deliveryId: entry.deliveryId, err: errorMessage(err) }, 'cannot record the failed notification'));
    await this.settle(entry);
  }

  /** The notification is done with: out of the outbox. */
  private async settle(entry: OutboxEntry): Promise<void> {
    this.entries.delete(entry.deliveryId);
    await this.outbox
      .remove(entry.deliveryId)
      .catch((err: unknown) => this.options.logger.warn({ deliveryId: entry.deliveryId, err: errorMessage(err) }, 'cannot remove the notification from the outbox (it may be sent again)'));
  }
}
