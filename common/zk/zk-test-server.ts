// Test-only: one real ZooKeeper per suite, skipped (with the reason printed) where the host has
// none, except under CI=true where a missing ZooKeeper is a failure.
import { ZooKeeperServer } from '../../integration-tests/harness/zookeeper.js';

export { ZooKeeperServer };

export async function startTestZooKeeper(ctx: Mocha.Context): Promise<ZooKeeperServer | undefined> {
  const available = await ZooKeeperServer.available();
  if (!available.ok) {
    if (process.env.CI === 'true') throw new Error(`ZooKeeper is required in CI: ${available.reason}`);
    console.log(`      skipping: ZooKeeper unavailable: ${available.reason}`);
    ctx.skip();
    return undefined;
  }
  return ZooKeeperServer.start({ tickTimeMs: 200 });
}
