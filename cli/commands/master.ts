// `tessera master`: a master until SIGINT/SIGTERM; standalone, or one of several contending through
// ZooKeeper (`--zk`), printing its role as it changes.
import type { Command } from 'commander';
import { Option } from 'commander';
import { createLogger } from '../../common/index.js';
import type { ZkUrl } from '../../common/index.js';
import { DEFAULT_WORK_DIR, parseDuration, parseHost, parseHostnameFlag, parseIp, parsePort, parseWorkDir, parseZkFlag } from '../args.js';
import { UsageError } from '../errors.js';
import { runUntilSignal, startFailure } from '../daemon.js';
import { flag } from '../options.js';

export interface MasterCommandOptions {
  host: string;
  port: number;
  advertiseIp?: string;
  hostname?: string;
  workDir: string;
  agentTimeout: number;
  agentReregisterTimeout: number;
  heartbeatInterval: number;
  zk?: ZkUrl;
  zkSessionTimeout: number;
  roles?: string[];
  weights?: Record<string, number>;
  credentials?: string;
  offerTimeout: number;
  allocationInterval: number;
}

/** Prints a master's role changes (elected, deposed…) on stderr, each with the time it happened. */
export function printRole(message: string): void {
  process.stderr.write(`${new Date().toISOString()} master: ${message}\n`);
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('master')
    .description('run a master: standalone (registry on local disk), or with --zk one of several that elect a leader')
    .addOption(new Option('--host <address>', 'address to listen on').default('0.0.0.0').argParser(flag(parseHost)))
    .addOption(new Option('--port <port>', 'port to listen on (0: any free port)').default(5050).argParser(flag(parsePort)))
    .addOption(new Option('--advertise-ip <ip>', 'the IP agents and clients reach this master at').argParser(flag(parseIp)))
    .addOption(new Option('--hostname <name>', 'the name MasterInfo and /master/state show (default: the host name)').argParser(flag(parseHostnameFlag)))
    .addOption(new Option('--work-dir <dir>', 'durable state').default(DEFAULT_WORK_DIR).argParser(flag(parseWorkDir)))
    .addOption(
      new Option('--agent-timeout <duration>', 'an agent silent this long is lost (30s, 500ms, 2m or seconds)')
        .default(30_000, '30s')
        .argParser(flag(parseDuration)),
    )
    .addOption(
      new Option('--zk <url>', 'contend for leadership through ZooKeeper: zk://[user:pass@]host:2181[,host…]/tessera').argParser(
        flag(parseZkFlag),
      ),
    )
    .addOption(
      new Option('--zk-session-timeout <duration>', 'ZooKeeper session timeout: how long a dead leader keeps its place')
        .default(10_000, '10s')
        .argParser(flag(parseDuration)),
    )
    .addOption(
      new Option('--agent-reregister-timeout <duration>', 'after a failover or restart, how long known agents have to come back before removal')
        .default(600_000, '10m')
        .argParser(flag(parseDuration)),
    )
    .addOption(
      new Option('--heartbeat-interval <duration>', 'how often agents are told to heartbeat').default(5_000, '5s').argParser(flag(parseDuration)),
    )
    .addOption(new Option('--roles <list>', "roles frameworks may subscribe with, comma-separated ('*' is always allowed)").argParser(flag(parseRoles)))
    .addOption(new Option('--weights <list>', 'DRF role weights, e.g. web=2,batch=0.5').argParser(flag(parseWeights)))
    .addOption(
      new Option('--credentials <file>', 'framework principals and secrets (Mesos format); scheduler calls then need HTTP Basic auth'),
    )
    .addOption(
      new Option('--offer-timeout <duration>', 'rescind an offer neither accepted nor declined after this long')
        .default(60_000, '60s')
        .argParser(flag(parseDuration)),
    )
    .addOption(
      new Option('--allocation-interval <duration>', 'periodic allocation cycle (events trigger cycles at once too)')
        .default(1_000, '1s')
        .argParser(flag(parseDuration)),
    )
    .action(async (options: MasterCommandOptions) => setExitCode(await master(options)));
}

export async function master(options: MasterCommandOptions): Promise<number> {
  // Loaded here, not at the top: client commands (run, ps…) need not load the daemons' dependencies.
  const { Master, readCredentialsFile } = await import('../../master/index.js');
  const logger = createLogger('master');
  let instance: Awaited<ReturnType<typeof Master.create>>;
  try {
    const credentials = options.credentials === undefined ? undefined : await readCredentialsFile(options.credentials);
    instance = await Master.create({
      offerTimeoutMs: options.offerTimeout,
      allocationIntervalMs: options.allocationInterval,
      ...(options.roles === undefined ? {} : { roles: options.roles }),
      ...(options.weights === undefined ? {} : { roleWeights: options.weights }),
      ...(credentials === undefined ? {} : { credentials }),
      host: options.host,
      port: options.port,
      workDir: options.workDir,
      agentTimeoutMs: options.agentTimeout,
      agentReregisterTimeoutMs: options.agentReregisterTimeout,
      heartbeatIntervalMs: options.heartbeatInterval,
      ...(options.zk === undefined ? {} : { zk: { url: options.zk, sessionTimeoutMs: options.zkSessionTimeout }, onRoleChange: printRole }),
      logger,
      ...(options.advertiseIp === undefined ? {} : { advertiseIp: options.advertiseIp }),
      ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
    });
  } catch (err) {
    throw startFailure('master', err);
  }
  // Handle signals before saying we are up: whoever waits for that line may signal at once.
  const stopped = runUntilSignal([{ name: 'master', stop: () => instance.stop() }]);
  const mode = options.zk === undefined ? 'standalone' : `with ZooKeeper ${options.zk.redacted}, ${instance.role}`;
  process.stderr.write(`master listening on ${options.host}:${instance.port}, reachable at ${instance.url} (${mode})\n`);
  return stopped;
}

const ROLE_PATTERN = /^[A-Za-z0-9_.-][A-Za-z0-9_.\-/]*$/;

/** `web,batch`: role names as Mesos allows them. */
export function parseRoles(raw: string): string[] {
  const roles = raw.split(',').map((r) => r.trim()).filter((r) => r !== '');
  if (roles.length === 0) throw new UsageError('--roles: give at least one role');
  for (const role of roles) {
    if (!ROLE_PATTERN.test(role) || role === '.' || role === '..') throw new UsageError(`--roles: '${role}' is not a valid role name`);
  }
  return roles;
}

/** `web=2,batch=0.5`: a positive weight per role. */
export function parseWeights(raw: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of raw.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [role, value, extra] = part.split('=');
    const weight = Number(value);
    if (!role || value === undefined || extra !== undefined || !Number.isFinite(weight) || weight <= 0) {
      throw new UsageError(`--weights: '${part}' is not role=weight with a weight > 0`);
    }
    weights[role] = weight;
  }
  if (Object.keys(weights).length === 0) throw new UsageError('--weights: give at least one role=weight');
  return weights;
}
