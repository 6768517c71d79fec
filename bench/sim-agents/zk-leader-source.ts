// The leading master as ZooKeeper tells it, through common's LeaderDetector (the same detection real
// agents use). One detector, hence one ZooKeeper session, per fleet process: see leader-source.ts.
import { LeaderDetector, createLogger, leaderAddress, parseZkUrl } from '../../common/index.js';
import type { LeaderSource } from './leader-source.js';

export async function zkLeaderSource(url: string, sessionTimeoutMs: number): Promise<LeaderSource> {
  const detector = await LeaderDetector.create({ url: parseZkUrl(url), logger: createLogger('sim-agents', 'warn'), sessionTimeoutMs });
  return {
    get address() {
      const leader = detector.leader;
      return leader ? leaderAddress(leader) : undefined;
    },
    onChange(listener) {
      // The detector reports MasterInfo (or undefined while no master leads); agents need 'ip:port'.
      return detector.onChange((leader) => listener(leader ? leaderAddress(leader) : undefined));
    },
    close: () => detector.close(),
  };
}
