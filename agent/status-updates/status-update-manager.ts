// Reliable status updates: per task an ordered queue whose head is sent to the master until it is
// acknowledged, then the next. Each update is checkpointed before it is first sent and each
// acknowledgement is recorded, so after a restart exactly the unacknowledged ones are sent again.
// At-least-once, in order per task; tasks do not wait for each other.
//
// Two kinds of acknowledgement end a head update:
//   - the master's answer lists it as `acknowledged` (the master is the end of the line for it);
//   - the master's answer lists it as `received` (forwarded to the task's framework): the head is
//     *held* — the task's next update is not sent — and re-sent after a backoff interval until the
//     framework's acknowledgement for its uuid reaches acknowledge() (POST /internal/v1/acknowledgements),
//     as Mesos's agent re-sends an unacknowledged update until the framework acknowledges it.
// The next update goes out while the previous acknowledgement is still being recorded: a crash
// before that record is durable only means the update is sent once more (deduplicated by uuid).
import { assertNever, backoffDelay, type Logger, type TaskStatus } from '../../common/index.js';
import { sleep } from '../sleep.js';
import type { CheckpointStore } from '../checkpoint/index.js';
import { StatusBatcher, type PostJson, type StatusLink } from './status-batcher.js';

export interface StatusUpdateManagerOptions {
  store: CheckpointStore;
  logger: Logger;
  retryMinMs: number;
  retryMaxMs: number;
  /** The master said it does not know this agent: the master link must re-register. */
  onAgentUnknown?: () => void;
  random?: () => number;
  requestTimeoutMs?: number;
  /** Replaces the HTTP POST to the master (tests). */
  post?: PostJson;
}

type Link = StatusLink;

interface TaskQueue {
  pending: TaskStatus[];
  draining: boolean;
  /** uuid of the head update the master has forwarded to the framework (while it is the head). */
  held: string | undefined;
  /** Aborted (and replaced) to wake this task's sender: its head was acknowledged by the framework. */
  wake: AbortController;
  /** Acknowledgements being recorded; the queue counts as busy until they are durable. */
  acks: Set<Promise<void>>;
}

export class StatusUpdateManager {
  private readonly queues = new Map<string, TaskQueue>();
  private link: Link | undefined;
  private stopped = false;
  /** Aborted (and replaced) to wake every sender: a new link, or stop(). */
  private wake = new AbortController();
  private readonly idleWaiters = new Set<() => void>();

  /** Heads of many tasks' queues share one POST (see StatusBatcher). */
  private readonly batcher: StatusBatcher;

  constructor(private readonly options: StatusUpdateManagerOptions) {
    this.batcher = new StatusBatcher({ logger: options.logger, requestTimeoutMs: options.requestTimeoutMs, post: options.post });
  }

  /** Checkpoints the update, then queues it for delivery. Resolves once it is durable. */
  async enqueue(update: TaskStatus): Promise<void> {
    if (this.stopped) return;
    await this.options.store.appendUpdate(update.task_id, update);
    this.queue(update.task_id).pending.push(update);
    this.drain(update.task_id);
  }

  /** Recovery: updates already in the checkpoint but never acknowledged go back in the queue, in order. */
  requeue(taskId: string, updates: readonly TaskStatus[]): void {
    if (updates.length === 0) return;
    this.queue(taskId).pending.push(...updates);
    this.drain(taskId);
  }

  /** Registered (again): send every unacknowledged update now, without waiting out a backoff. */
  resume(masterUrl: string, agentId: string): void {
    this.link = { masterUrl, agentId };
    this.wakeAll();
    for (const taskId of this.queues.keys()) this.drain(taskId);
  }

  /** The link to the master is down: hold updates until resume(). */
  pause(): void {
    this.link = undefined;
  }

  stop(): void {
    this.stopped = true;
    this.link = undefined;
    this.wakeAll();
  }

  /**
   * The framework acknowledged update `uuid` of `taskId` (the master relays its ACKNOWLEDGE). If it is
   * that task's head update, it is dropped (the acknowledgement checkpointed) and the next one goes
   * out. Anything else — an unknown task, a stale or duplicate uuid — is ignored. Resolves with
   * whether it applied, once the acknowledgement is durable.
   */
  async acknowledge(taskId: string, uuid: string): Promise<boolean> {
    const q = this.queues.get(taskId);
    const head = q?.pending[0];
    if (this.stopped || !q || !head || head.uuid !== uuid) return false;
    const recorded = this.dropHead(taskId, q, head);
    const old = q.wake;
    q.wake = new AbortController();
    old.abort();
    // Starts the sender if none runs (e.g. link down), which also retires an emptied queue.
    this.drain(taskId);
    await recorded;
    return true;
  }

  /** The uuid of `taskId`'s head update while it waits for the framework's acknowledgement. */
  held(taskId: string): string | undefined {
    const q = this.queues.get(taskId);
    return q?.held !== undefined && q.pending[0]?.uuid === q.held ? q.held : undefined;
  }

  /** Updates of `taskId` not yet acknowledged. */
  pending(taskId: string): readonly TaskStatus[] {
    return this.queues.get(taskId)?.pending ?? [];
  }

  hasPending(taskId: string): boolean {
    const q = this.queues.get(taskId);
    return q !== undefined && (q.pending.length > 0 || q.acks.size > 0);
  }

  /** Resolves once no update is waiting for an acknowledgement (tests, graceful shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  private isIdle(): boolean {
    for (const q of this.queues.values()) if (q.pending.length > 0 || q.acks.size > 0) return false;
    return true;
  }

  private queue(taskId: string): TaskQueue {
    let q = this.queues.get(taskId);
    if (!q) {
      q = { pending: [], draining: false, held: undefined, wake: new AbortController(), acks: new Set() };
      this.queues.set(taskId, q);
    }
    return q;
  }

  private wakeAll(): void {
    const old = this.wake;
    this.wake = new AbortController();
    old.abort();
  }

  private drain(taskId: string): void {
    const q = this.queue(taskId);
    if (q.draining || this.stopped) return;
    q.draining = true;
    void this.sendLoop(taskId, q)
      .catch((err: unknown) => this.options.logger.error({ err, taskId }, 'status update sender failed'))
      .then(() => settled(q.acks))
      .finally(() => {
        q.draining = false;
        if (q.pending.length === 0 && q.acks.size === 0) {
          this.queues.delete(taskId);
          this.options.store.releaseLog(taskId);
          if (this.isIdle()) {
            for (const resolve of this.idleWaiters) resolve();
            this.idleWaiters.clear();
          }
        } else if (!this.stopped && this.link) {
          this.drain(taskId);
        }
      });
  }

  private async sendLoop(taskId: string, q: TaskQueue): Promise<void> {
    let attempt = 0;
    let sent: TaskStatus | undefined;
    while (!this.stopped) {
      const head = q.pending[0];
      if (!head) {
        if (q.acks.size === 0) return;
        // Stay the sender until the acknowledgements are durable; anything queued meanwhile goes next.
        await settled(q.acks);
        continue;
      }
      // A new head (the last one acknowledged) starts with a fresh backoff.
      if (head !== sent) attempt = 0;
      sent = head;
      const link = this.link;
      if (!link) return; // resume() restarts the loop
      const wake = [this.wake.signal, q.wake.signal];
      const outcome = await this.batcher.send(link, head);
      if (this.stopped) return;
      // The framework's acknowledgement overtook the master's answer: the head is gone already.
      if (q.pending[0] !== head) continue;
      const backoff = (): number => backoffDelay(attempt++, { minMs: this.options.retryMinMs, maxMs: this.options.retryMaxMs, random: this.options.random });
      switch (outcome) {
        case 'acknowledged':
        case 'rejected':
          void this.dropHead(taskId, q, head);
          break;
        case 'received':
          // Held: the next update waits until the framework acknowledges this one; until then it is
          // sent again now and then (the framework may have missed it, e.g. while failing over).
          q.held = head.uuid;
          await sleep(backoff(), wake);
          break;
        case 'agent-unknown':
          if (this.link === link) {
            this.link = undefined;
            this.options.onAgentUnknown?.();
          }
          return;
        case 'retry':
          await sleep(backoff(), wake);
          break;
        default:
          assertNever(outcome, 'send outcome');
      }
    }
  }

  /** Drops the head update and records its acknowledgement (without holding up the next send). */
  private dropHead(taskId: string, q: TaskQueue, head: TaskStatus): Promise<void> {
    if (q.pending[0] === head) q.pending.shift();
    q.held = undefined;
    return this.recordAck(taskId, q, head.uuid);
  }

  /** Records an acknowledgement without holding up the next send (the log keeps the order). */
  private recordAck(taskId: string, q: TaskQueue, uuid: string): Promise<void> {
    const recorded = this.options.store.appendAck(taskId, uuid).catch((err: unknown) => {
      // Not fatal: after a restart the update is sent again and acknowledged again.
      this.options.logger.warn({ err, taskId, uuid }, 'could not record a status update acknowledgement');
    });
    q.acks.add(recorded);
    void recorded.then(() => q.acks.delete(recorded));
    return recorded;
  }
}

async function settled(promises: ReadonlySet<Promise<void>>): Promise<void> {
  await Promise.allSettled([...promises]);
}
