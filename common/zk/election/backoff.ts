// Exponential backoff with jitter for reconnecting while ZooKeeper is down, so a fleet of masters
// that lost the ensemble together does not come back in lock-step.

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** [0, 1); injectable so a test can pin it. */
  random?: () => number;
}

/** The delay before retry number `attempt` (0-based): min·2^attempt capped at max, then 50–100 % of it. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.maxMs, options.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}
