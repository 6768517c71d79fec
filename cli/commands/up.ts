// `tessera up`: a standalone master and one agent in this process — a one-host cluster to try things on.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { Option } from 'commander';
import { createLogger, errorMessage } from '../../common/index.js';
import {
  DEFAULT_MASTER,
  DEFAULT_MASTER_PORT,
  DEFAULT_WORK_DIR,
  parseDuration,
  parseHost,
  parseMasterAddress,
  parsePort,
  parseWorkDir,
  parseZkFlag,
  type DockerMode,
  type IsolationMode,
  targetOf,
} from '../args.js';
import { pullProgressReporter } from '../pull-progress.js';
import { parseResourcesFlag, runUntilSignal, startFailure, stopAll } from '../daemon.js';
import { MasterClient } from '../master-client.js';
import { flag } from '../options.js';
import { dockerOption, isolationOption, reservedMemOption, resourcesOption } from './agent.js';
import { printRole } from './master.js';

const REGISTRATION_DEADLINE_MS = 15_000;

export interface UpOptions {
  host: string;
  port: number;
  agentPort: number;
  workDir: string;
  resources?: string;
  reservedMem?: number;
  isolation: IsolationMode;
  docker: DockerMode;
  /** zk://…: the master contends through ZooKeeper and the agent follows whichever master leads. */
  zk?: string;
  zkSessionTimeout: number;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('up')
    .description('run a master and one agent in this process: a one-host cluster')
    // Loopback by default: this is a local cluster, and its API runs any command it is given.
    .addOption(new Option('--host <address>', 'address both listen on').default('127.0.0.1').argParser(flag(parseHost)))
    .addOption(new Option('--port <port>', "the master's port (0: any free port)").default(DEFAULT_MASTER_PORT).argParser(flag(parsePort)))
    .addOption(new Option('--agent-port <port>', "the agent's port (0: any free port)").default(5051).argParser(flag(parsePort)))
    .addOption(new Option('--work-dir <dir>', 'durable state of both').default(DEFAULT_WORK_DIR).argParser(flag(parseWorkDir)))
    .addOption(resourcesOption())
    .addOption(reservedMemOption())
    .addOption(isolationOption())
    .addOption(dockerOption())
    .addOption(
      new Option('--zk <url>', 'join a highly available cluster through ZooKeeper instead of running standalone').argParser(
        flag((raw) => {
          parseZkFlag(raw);
          return raw.trim();
        }),
      ),
    )
    .addOption(new Option('--zk-session-timeout <duration>', 'ZooKeeper session timeout').default(10_000, '10s').argParser(flag(parseDuration)))
    .action(async (options: UpOptions) => setExitCode(await up(options)));
}

export async function up(options: UpOptions): Promise<number> {
  // Loaded here, not at the top: client commands (run, ps…) need not load the daemons' dependencies.
  const [{ Master }, { Agent, parseResources }] = await Promise.all([
    import('../../master/index.js'),
    import('../../agent/index.js'),
  ]);
  const resources = parseResourcesFlag(parseResources, options.resources);
  // The daemons' JSON logs would bury the summary below: warnings only unless asked for more.
  const level = process.env.TESSERA_LOG_LEVEL ?? 'warn';
  process.stderr.write('starting the master…\n');
  let master: Awaited<ReturnType<typeof Master.create>>;
  try {
    master = await Master.create({
      host: options.host,
      port: options.port,
      workDir: options.workDir,
      logger: createLogger('master', level),
      ...(options.zk === undefined
        ? {}
        : { zk: { url: parseZkFlag(options.zk), sessionTimeoutMs: options.zkSessionTimeout }, onRoleChange: printRole }),
    });
  } catch (err) {
    throw startFailure('master', err);
  }
  // Where this process reaches its own master: loopback when listening on every address.
  const reachHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const masterAddress = parseMasterAddress(`${reachHost.includes(':') ? `[${reachHost}]` : reachHost}:${master.port}`);
  const masterHostPort = masterAddress.hostPort;
  process.stderr.write('starting the agent…\n');
  let agent: Awaited<ReturnType<typeof Agent.create>>;
  try {
    agent = await Agent.create({
      host: options.host,
      port: options.agentPort,
      master: options.zk ?? masterHostPort,
      zkSessionTimeoutMs: options.zkSessionTimeout,
      workDir: options.workDir,
      isolation: options.isolation,
      docker: options.docker,
      onPullProgress: pullProgressReporter(),
      logger: createLogger('agent', level),
      ...(resources === undefined ? {} : { resources }),
      ...(options.reservedMem === undefined ? {} : { reservedMemMb: options.reservedMem }),
    });
  } catch (err) {
    await stopAll([{ name: 'master', stop: () => master.stop() }]);
    throw startFailure('agent', err);
  }
  const parts = [
    { name: 'agent', stop: () => agent.stop() },
    { name: 'master', stop: () => master.stop() },
  ];
  const stopped = runUntilSignal(parts); // from here on, Ctrl-C stops both cleanly
  const registered = await waitForRegistration(new MasterClient(targetOf(masterAddress)));
  // With ZooKeeper, clients find whichever master leads (the password, if any, is not echoed).
  const masterFlag =
    options.zk !== undefined ? ` --master ${parseZkFlag(options.zk).redacted}` : masterHostPort === DEFAULT_MASTER ? '' : ` --master ${masterHostPort}`;
  process.stdout.write(
    [
      '',
      registered ? 'tessera is up' : 'tessera is up, but the agent has not registered yet (see its log)',
      `  master  ${master.url}${options.zk === undefined ? '' : `  (${master.role}; ZooKeeper ${parseZkFlag(options.zk).redacted})`}`,
      `  agent   ${agent.url}${agent.id === undefined ? '' : `  (${agent.id})`}`,
      `  state   ${options.workDir}`,
      '',
      'run a task:',
      `  tessera run${masterFlag} -- echo hello`,
      `  tessera run${masterFlag} --image busybox --cpus 0.5 --mem 128 -- sh -c 'echo hi from a container'`,
      `  tessera ps${masterFlag}      tessera logs${masterFlag} ID      tessera top${masterFlag}`,
      '',
      'Ctrl-C stops both (running tasks keep running and are recovered on the next `tessera up`).',
      '',
    ].join('\n'),
  );
  return stopped;
}

/** Waits (with progress on the terminal) until the master lists an active agent. */
async function waitForRegistration(client: MasterClient): Promise<boolean> {
  const deadline = Date.now() + REGISTRATION_DEADLINE_MS;
  let reported = false;
  while (Date.now() < deadline) {
    try {
      const state = await client.state();
      if (state.slaves.some((agent) => agent.active)) return true;
    } catch (err) {
      if (!reported) process.stderr.write(`waiting for the master to answer (${errorMessage(err)})…\n`);
      reported = true;
    }
    if (!reported) {
      process.stderr.write('waiting for the agent to register…\n');
      reported = true;
    }
    await sleep(200);
  }
  return false;
}
