// The webhook outbox in the framework's store: every notification still owed to a receiver lives under
// `outbox/<deliveryId>` from before its first attempt until it is delivered or given up, so a newly
// elected leader can resume it (at-least-once across failover). A notification given up on leaves a
// record under `notification-errors/<job>` (the latest per job), which the job stat shows.
import type { KeyValueStore } from './jobs-engine.js';
import type { WebhookEvent, WebhookPayload } from './webhook-payload.js';

export interface OutboxEntry {
  deliveryId: string;
  url: string;
  payload: WebhookPayload;
  /** Attempts that failed so far (one in flight at a crash is not counted: it is sent again). */
  attempts: number;
  /** Epoch ms of the next attempt. */
  nextAttemptAt: number;
  createdAt: number;
  lastError?: string;
}

/** A notification given up on: refused (4xx) or its attempts used up. */
export interface NotificationFailure {
  deliveryId: string;
  job: string;
  event: WebhookEvent;
  url: string;
  attempts: number;
  error: string;
  /** Epoch ms when it was given up. */
  at: number;
}

const OUTBOX_PREFIX = 'outbox/';
const FAILURE_PREFIX = 'notification-errors/';

export class WebhookOutbox {
  constructor(private readonly store: KeyValueStore) {}

  put(entry: OutboxEntry): Promise<void> {
    return this.store.put(`${OUTBOX_PREFIX}${entry.deliveryId}`, entry);
  }

  remove(id: string): Promise<void> {
    return this.store.delete(`${OUTBOX_PREFIX}${id}`);
  }

  /** Every owed notification, oldest first. */
  async load(): Promise<OutboxEntry[]> {
    const entries = await this.readAll<OutboxEntry>(OUTBOX_PREFIX);
    return entries.sort((a, b) => a.createdAt - b.createdAt);
  }

  recordFailure(failure: NotificationFailure): Promise<void> {
    return this.store.put(`${FAILURE_PREFIX}${failure.job}`, failure);
  }

  failures(): Promise<NotificationFailure[]> {
    return this.readAll<NotificationFailure>(FAILURE_PREFIX);
  }

  forgetFailure(job: string): Promise<void> {
    return this.store.delete(`${FAILURE_PREFIX}${job}`);
  }

  private async readAll<T>(prefix: string): Promise<T[]> {
    const out: T[] = [];
    for (const key of await this.store.list(prefix)) {
      const value = await this.store.get<T>(key.startsWith(prefix) ? key : `${prefix}${key}`);
      if (value !== undefined) out.push(value);
    }
    return out;
  }
}
