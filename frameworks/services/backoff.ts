// Launch backoff after failures: backoffSeconds × backoffFactor^(n−1), capped by maxLaunchDelaySeconds.
import type { AppDefinition } from './app-definition.js';

export interface BackoffState {
  /** Failures since the app last had a healthy task. */
  failures: number;
  /** No launch before this time (ms since the epoch). */
  notBefore: number;
}

export function launchDelayMs(app: Pick<AppDefinition, 'backoffSeconds' | 'backoffFactor' | 'maxLaunchDelaySeconds'>, failures: number): number {
  if (failures <= 0) return 0;
  const seconds = app.backoffSeconds * Math.pow(app.backoffFactor, failures - 1);
  return Math.round(Math.min(seconds, app.maxLaunchDelaySeconds) * 1000);
}

/** The state after one more failure at `now`. */
export function afterFailure(app: Pick<AppDefinition, 'backoffSeconds' | 'backoffFactor' | 'maxLaunchDelaySeconds'>, state: BackoffState | undefined, now: number): BackoffState {
  const failures = (state?.failures ?? 0) + 1;
  return { failures, notBefore: now + launchDelayMs(app, failures) };
}
