// Polls a condition until it holds or a deadline passes; used where the kernel gives no event we
// can wait on cheaply (cgroup.events changes).
export async function waitUntil(
  condition: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number },
): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
  }
}
