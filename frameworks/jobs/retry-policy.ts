// When a failed attempt is tried again: up to `retries` more attempts, after a growing pause.

export interface RetryPolicyOptions {
  /** Pause before the first retry. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export type RetryDecision = { retry: true; delayMs: number; nextAttempt: number } | { retry: false };

/** `attempt` is the 1-based attempt that just failed; `retries` the job's allowance beyond the first. */
export function decideRetry(attempt: number, retries: number, options: RetryPolicyOptions = {}): RetryDecision {
  if (attempt > retries) return { retry: false };
  const base = options.baseDelayMs ?? 1_000;
  const max = options.maxDelayMs ?? 60_000;
  return { retry: true, delayMs: Math.min(max, base * 2 ** (attempt - 1)), nextAttempt: attempt + 1 };
}
