// Poll with a deadline: how tests (and anything else) wait for a condition, never with a blind sleep.

/**
 * Calls `probe` every `intervalMs` until it returns something other than undefined/false, and
 * resolves with that. A probe that throws counts as "not yet"; past `timeoutMs` it rejects, naming
 * `what` and the last error.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
