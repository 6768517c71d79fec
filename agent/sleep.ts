// Waiting between retries (how long: common's backoffDelay), cut short by stop or a wake-up.
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
