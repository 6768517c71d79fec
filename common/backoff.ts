// Exponential backoff with "equal jitter", for every retry loop that talks to another process
// (agents to masters, contenders to ZooKeeper, frameworks to masters): a fleet that lost its peer
// together does not come back in lock-step.

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Returns [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
}

/** Delay before retry number `attempt` (0-based): min·2^attempt capped at max, then 50–100 % of it. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const minMs = Math.max(1, options.minMs);
  const maxMs = Math.max(minMs, options.maxMs);
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}
