// Exponential backoff with jitter, shared by status update retries and (re-)registration.

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Returns [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (0-based): min·2^attempt capped at max, then "equal jitter"
 * (half fixed, half random) so a fleet of agents that lost the master together does not retry in step.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const minMs = Math.max(1, options.minMs);
  const maxMs = Math.max(minMs, options.maxMs);
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}

/** Resolves after `ms`, or early (without error) when any of `signals` aborts. */
export function sleep(ms: number, signals?: AbortSignal | readonly AbortSignal[]): Promise<void> {
  const list = signals === undefined ? [] : Array.isArray(signals) ? (signals as readonly AbortSignal[]) : [signals as AbortSignal];
  return new Promise((resolve) => {
    if (list.some((s) => s.aborted)) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      // Removed again, so long-lived signals do not collect a listener per sleep.
      for (const s of list) s.removeEventListener('abort', done);
      resolve();
    }
    for (const s of list) s.addEventListener('abort', done, { once: true });
  });
}
