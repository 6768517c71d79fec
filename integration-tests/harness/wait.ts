// Waiting for a condition with a deadline (common's waitFor), with the longer defaults that
// end-to-end tests against real processes want.
import { waitFor as waitForCondition } from '../../common/index.js';

export function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  return waitForCondition(what, probe, timeoutMs, intervalMs);
}
