// Waiting without blind sleeps: poll a condition until it holds or a deadline passes. Used where the
// kernel gives no event we can wait on cheaply (cgroup.events, freezer.state, a process's exit).
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(
  condition: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await delay(options.intervalMs ?? 20);
  }
}
