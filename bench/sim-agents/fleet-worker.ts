// Entry point of a fleet worker process: runs one SimFleet and answers the bench over IPC.
// It exits when the bench goes away (IPC disconnect), so a killed bench leaves no fleet behind.
import { assertNever, errorMessage } from '../../common/index.js';
import { SimFleet } from './fleet.js';
import { ManualLeader, type LeaderSource } from './leader-source.js';
import type { FromWorker, ToWorker } from './messages.js';

let fleet: SimFleet | undefined;
let manual: ManualLeader | undefined;

function send(message: FromWorker): void {
  process.send?.(message);
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.kind) {
    case 'start': {
      const { config } = message;
      let leader: LeaderSource;
      if (config.zkUrl !== undefined) {
        // Loaded only here: a fleet told its leader by the bench needs no ZooKeeper client.
        const { zkLeaderSource } = await import('./zk-leader-source.js');
        leader = await zkLeaderSource(config.zkUrl, config.sessionTimeoutMs);
      } else {
        manual = new ManualLeader(config.leaderAddress);
        leader = manual;
      }
      fleet = new SimFleet({
        count: config.count,
        firstIndex: config.firstIndex,
        leader,
        maxSockets: config.maxSockets,
        startSpreadMs: config.startSpreadMs,
      });
      fleet.start();
      send({ kind: 'started' });
      return;
    }
    case 'set-leader':
      manual?.set(message.address);
      return;
    case 'snapshot':
      if (fleet) send({ kind: 'snapshot', requestId: message.requestId, snapshot: fleet.snapshot(message.sinceMs) });
      return;
    case 'stop':
      await fleet?.stop();
      fleet = undefined;
      send({ kind: 'stopped' });
      process.disconnect?.();
      return;
    default:
      assertNever(message);
  }
}

process.on('message', (message: ToWorker) => {
  handle(message).catch((err: unknown) => send({ kind: 'error', message: errorMessage(err) }));
});
process.on('disconnect', () => process.exit(0));
