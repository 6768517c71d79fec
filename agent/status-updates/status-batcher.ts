// Carries status updates to the master, several per POST. Callers (one sender per task, one update
// in flight per task) hand in an update and get back its outcome; updates handed in during the same
// callback, or while the previous batches are in flight, go out together. A batch has
// at most one update per task, so batching never reorders a task's updates.
// The master answers each uuid as `acknowledged` (done) or `received` (forwarded to the task's
// framework: the sender keeps it until the framework's acknowledgement reaches the agent).
import {
  INTERNAL_PATHS,
  MAX_STATUS_UPDATE_BATCH,
  RemoteError,
  errorMessage,
  requestJson,
  type Logger,
  type StatusUpdateBatchRequest,
  type StatusUpdateBatchResponse,
  type StatusUpdateRequest,
  type StatusUpdateResponse,
  type TaskStatus,
} from '../../common/index.js';

export type SendOutcome = 'acknowledged' | 'received' | 'rejected' | 'agent-unknown' | 'retry';

export interface StatusLink {
  masterUrl: string;
  agentId: string;
}

/** How the batcher reaches the master; a test can replace it. */
export type PostJson = <T>(url: string, body: unknown, timeoutMs: number) => Promise<T>;

export interface StatusBatcherOptions {
  logger: Logger;
  requestTimeoutMs?: number;
  /** Batches in flight at once; more updates wait and go in the next batch. */
  maxInFlight?: number;
  post?: PostJson;
}

interface Waiting {
  update: TaskStatus;
  resolve: (outcome: SendOutcome) => void;
}

const defaultPost: PostJson = (url, body, timeoutMs) => requestJson(url, { body, timeoutMs });

export class StatusBatcher {
  private waiting: Waiting[] = [];
  private waitingLink: StatusLink | undefined;
  private inFlight = 0;
  private scheduled = false;
  private readonly post: PostJson;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: StatusBatcherOptions) {
    this.post = options.post ?? defaultPost;
    this.maxInFlight = options.maxInFlight ?? 2;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /** Resolves with the update's outcome; never rejects. */
  send(link: StatusLink, update: TaskStatus): Promise<SendOutcome> {
    // A batch goes to one link: updates for an older link leave before this one joins.
    if (this.waitingLink !== undefined && this.waitingLink !== link) this.flush(true);
    this.waitingLink = link;
    return new Promise((resolve) => {
      this.waiting.push({ update: { ...update, agent_id: update.agent_id ?? link.agentId }, resolve });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0 || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    // Updates produced by the same callback (and its promise continuations) travel together; a
    // microtask rather than setImmediate so a lone update is not held up behind other I/O.
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush(false);
    });
  }

  private flush(force: boolean): void {
    const link = this.waitingLink;
    if (!link || this.waiting.length === 0 || (!force && this.inFlight >= this.maxInFlight)) return;
    const batch = this.waiting.splice(0, MAX_STATUS_UPDATE_BATCH);
    if (this.waiting.length === 0) this.waitingLink = undefined;
    this.inFlight++;
    void this.sendBatch(link, batch).finally(() => {
      this.inFlight--;
      this.schedule();
    });
    this.schedule();
  }

  private async sendBatch(link: StatusLink, batch: readonly Waiting[]): Promise<void> {
    if (batch.length === 1) {
      const only = batch[0]!;
      only.resolve(await this.sendSingle(link, only.update));
      return;
    }
    const url = `${link.masterUrl}${INTERNAL_PATHS.status(link.agentId)}`;
    const body: StatusUpdateBatchRequest = { updates: batch.map((w) => w.update) };
    try {
      const response = await this.post<StatusUpdateBatchResponse>(url, body, this.timeoutMs);
      const acknowledged = new Set(Array.isArray(response?.acknowledged) ? response.acknowledged : []);
      const received = new Set(Array.isArray(response?.received) ? response.received : []);
      for (const w of batch) {
        if (acknowledged.has(w.update.uuid)) {
          w.resolve('acknowledged');
        } else if (received.has(w.update.uuid)) {
          w.resolve('received');
        } else {
          this.options.logger.warn({ taskId: w.update.task_id, uuid: w.update.uuid }, 'master did not acknowledge a batched status update; retrying');
          w.resolve('retry');
        }
      }
    } catch (err) {
      if (err instanceof RemoteError && err.code === 'AGENT_UNKNOWN') {
        for (const w of batch) w.resolve('agent-unknown');
      } else if (err instanceof RemoteError && err.code === 'INVALID_REQUEST') {
        // The master applied none of the batch. Send each alone so only an invalid one is dropped.
        this.options.logger.warn({ err: errorMessage(err), size: batch.length }, 'master refused a status update batch; sending its updates one by one');
        await Promise.all(batch.map(async (w) => w.resolve(await this.sendSingle(link, w.update))));
      } else {
        this.options.logger.debug({ err: errorMessage(err), size: batch.length }, 'status update batch not delivered; will retry');
        for (const w of batch) w.resolve('retry');
      }
    }
  }

  private async sendSingle(link: StatusLink, update: TaskStatus): Promise<SendOutcome> {
    const url = `${link.masterUrl}${INTERNAL_PATHS.status(link.agentId)}`;
    const body: StatusUpdateRequest = { update };
    try {
      const response = await this.post<StatusUpdateResponse>(url, body, this.timeoutMs);
      if (response?.acknowledged === update.uuid) return 'acknowledged';
      if (response?.received === update.uuid) return 'received';
      this.options.logger.warn({ taskId: update.task_id, uuid: update.uuid, response }, 'master answered a status update without acknowledging it; retrying');
      return 'retry';
    } catch (err) {
      if (err instanceof RemoteError && err.code === 'AGENT_UNKNOWN') return 'agent-unknown';
      if (err instanceof RemoteError && err.code === 'INVALID_REQUEST') {
        // A malformed update never becomes valid: retrying would block this task's queue forever.
        this.options.logger.error({ err, update }, 'master rejected a status update as invalid; dropping it');
        return 'rejected';
      }
      this.options.logger.debug({ err: errorMessage(err), taskId: update.task_id, state: update.state }, 'status update not delivered; will retry');
      return 'retry';
    }
  }
}
