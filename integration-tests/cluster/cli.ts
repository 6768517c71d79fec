// The namespace cluster by hand:
//   node dist/integration-tests/cluster/cli.js up [--masters N] [--agents N] [--seed] [--keep-logs]
//       builds it, prints the addresses and how to reach it, and keeps it up until Ctrl-C (or `down`);
//   node dist/integration-tests/cluster/cli.js down [RUN_ID…]
//       tears down the given runs (default: every run), whether their `up` is still running or died;
//   node dist/integration-tests/cluster/cli.js list
//       lists the runs and whether their owner is alive.
// Needs root (network namespaces), like the e2e test. integration-tests/cluster/up.sh wraps `up`.
import { NetnsCluster, PORTS, sweepStaleRuns } from './netns-cluster.js';
import { listRecords, loadRecord, ownerAlive, type RunRecord } from './run-record.js';
import { teardownRun } from './teardown.js';
import { alive, signal } from './netns.js';
import { waitFor } from '../harness/wait.js';

function log(message: string): void {
  process.stderr.write(`[netns-cluster] ${message}\n`);
}

function usage(): never {
  process.stderr.write('usage: cli.js up [--masters N] [--agents N] [--seed] [--keep-logs] | down [RUN_ID…] | list\n');
  process.exit(2);
}

function count(args: string[], flag: string, fallback: number): number {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 1) usage();
  return value;
}

async function up(args: string[]): Promise<void> {
  // A signal during bring-up aborts it (create() tears down what it made); after, it tears down.
  const abort = new AbortController();
  const made: { cluster?: NetnsCluster } = {};
  let stopping = false;
  const keepDir = args.includes('--keep-logs');
  const stop = (): void => {
    const running = made.cluster;
    if (!running) {
      log('aborting bring-up…');
      abort.abort();
      return;
    }
    if (stopping) return;
    stopping = true;
    log('stopping…');
    void running.destroy({ keepDir }).then(async () => {
      const left = await running.leftovers();
      if (left.length > 0) log(`left behind:\n  ${left.join('\n  ')}`);
      else log('all gone');
      process.exit(left.length > 0 ? 1 : 0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await sweepStaleRuns(log);
  const created = await NetnsCluster.create({
    masters: count(args, '--masters', 3),
    agents: count(args, '--agents', 3),
    serfJoin: args.includes('--seed') ? 'seed' : 'mdns',
    progress: log,
    signal: abort.signal,
  });
  made.cluster = created;

  const leader = await created.leader();
  const exec = (host: string): string => `ip netns exec ${created.host(host).ns}`;
  const lines = [
    '',
    `run ${created.runId}: state and logs in ${created.baseDir}`,
    ...created.hosts.map((h) => `  ${h.name.padEnd(8)} ${h.ip.padEnd(15)} ${h.role.padEnd(9)} netns ${h.ns}`),
    '',
    `ZooKeeper:  ${created.zkUrl}`,
    `leader:     ${leader ? leader.url(PORTS.master) : '(none yet)'}`,
    `services:   ${created.servicesUrl}`,
    '',
    'The hosts are reachable only from inside the namespaces (their bridge lives in its own namespace):',
    `  ${exec('client')} curl -s ${(leader ?? created.masters[0])?.url(PORTS.master, '/master/state')}   (followers answer with no agents; API calls they redirect: curl -L)`,
    `  ${exec('client')} serf members`,
    `  ${exec('client')} node ${process.argv[1]?.replace(/integration-tests\/cluster\/cli\.js$/, 'cli/main.js')} run --master ${created.zkUrl} -- 'echo hello'`,
    `  ${exec('client')} curl -s ${created.agents[0]?.url(PORTS.agent, '/monitor/statistics')}`,
    '  (`ip netns exec` hides /sys/fs/cgroup; to start an agent by hand use `nsenter --net=/run/netns/NAME` instead)',
    '',
    `Ctrl-C here, or \`node ${process.argv[1] ?? 'cli.js'} down ${created.runId}\`, tears it all down.`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  // Stays up until a signal; the cluster's processes are not children we wait on.
  await new Promise<never>(() => undefined);
}

async function down(runIds: string[]): Promise<void> {
  const records = (await listRecords()).filter((r) => runIds.length === 0 || runIds.includes(r.runId));
  if (records.length === 0) {
    log(runIds.length ? `no run ${runIds.join(', ')}` : 'no runs');
    return;
  }
  for (const record of records) await downOne(record);
}

async function downOne(record: RunRecord): Promise<void> {
  if (await ownerAlive(record)) {
    // Its `up` (or test) is alive: let it tear down its own run.
    log(`run ${record.runId}: asking its owner (pid ${record.ownerPid}) to stop`);
    signal(record.ownerPid, 'SIGTERM');
    await waitFor(`run ${record.runId} owner to finish`, async () => ((await alive(record.ownerPid)) ? undefined : true), 90_000, 200);
    // An owner that died rather than finishing leaves its record: the run is torn down from it below.
    if (!(await loadRecord(record.baseDir))) return;
  }
  log(`run ${record.runId}: owner gone, tearing down from its record`);
  await teardownRun(record, { progress: log });
}

async function list(): Promise<void> {
  for (const record of await listRecords()) {
    const owner = (await ownerAlive(record)) ? `owner ${record.ownerPid} running` : 'owner gone (stale)';
    process.stdout.write(`${record.runId}  ${owner}  ${record.baseDir}  ${record.namespaces.length} namespaces\n`);
  }
}

const [command, ...rest] = process.argv.slice(2);
const action = command === 'up' ? up(rest) : command === 'down' ? down(rest) : command === 'list' ? list() : usage();
action.catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
