// Blocking reads of one task (`GET /api/v1/tasks/{id}?index=N&wait=S`, like Nomad's blocking
// queries): a caller waits for the task's next status instead of polling for it.
import type { Clock, TimerHandle } from '../../common/index.js';

export class TaskWatch {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly clock: Clock) {}

  /** Resolves at the task's next change, after `timeoutMs`, or when released; never rejects. */
  next(taskId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      // `timer` is set before anything can call wake (both wake it asynchronously).
      const wake = (): void => {
        this.clock.clearTimeout(timer);
        const set = this.waiters.get(taskId);
        set?.delete(wake);
        if (set?.size === 0) this.waiters.delete(taskId);
        resolve();
      };
      let set = this.waiters.get(taskId);
      if (!set) this.waiters.set(taskId, (set = new Set()));
      set.add(wake);
      const timer: TimerHandle = this.clock.setTimeout(wake, timeoutMs);
    });
  }

  /** The task changed: every waiter answers now. */
  changed(taskId: string): void {
    const set = this.waiters.get(taskId);
    if (!set) return;
    for (const wake of [...set]) wake();
  }

  /** Leadership ended: waiters answer now (and find out where the leader went). */
  releaseAll(): void {
    for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake();
  }

  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }
}
