// `tessera agent`: an agent that registers with a master, until SIGINT/SIGTERM (its tasks keep running).
import type { Command } from 'commander';
import { Option } from 'commander';
import { ValidationError, createLogger } from '../../common/index.js';
import { UsageError } from '../errors.js';
import {
  DEFAULT_WORK_DIR,
  parseCgroupsRoot,
  parseDockerMode,
  parseHost,
  parseHostnameFlag,
  parseIp,
  parseIsolation,
  parseNonNegativeInteger,
  parsePort,
  parseWorkDir,
  type DockerMode,
  type IsolationMode,
} from '../args.js';
import { pullProgressReporter } from '../pull-progress.js';
import { parseResourcesFlag, runUntilSignal, startFailure } from '../daemon.js';
import { flag, masterOption, type MasterFlag } from '../options.js';

export interface AgentCommandOptions extends MasterFlag {
  host: string;
  port: number;
  advertiseIp?: string;
  workDir: string;
  resources?: string;
  reservedMem?: number;
  isolation: IsolationMode;
  cgroupsRoot: string;
  docker: DockerMode;
  attributes?: string;
  hostname?: string;
}

export function isolationOption(): Option {
  return new Option('--isolation <mode>', 'auto, cgroups or posix').default('auto').argParser(flag(parseIsolation));
}

export function dockerOption(): Option {
  return new Option('--docker <mode>', 'auto (when an engine answers), on or off').default('auto').argParser(flag(parseDockerMode));
}

export function resourcesOption(): Option {
  return new Option('--resources <spec>', 'override detected resources, e.g. "cpus:4;mem:8192"');
}

export function reservedMemOption(): Option {
  return new Option('--reserved-mem <mb>', 'memory kept back for the host (default 512)').argParser(flag(parseNonNegativeInteger));
}

export function attributesOption(): Option {
  return new Option('--attributes <spec>', 'attributes offers carry, e.g. "rack:r1;zone:eu-1;ssd:true" (numbers are SCALAR)');
}

export function hostnameOption(): Option {
  return new Option('--hostname <name>', 'the name offers and /master/state show for this agent (default: the host name)').argParser(flag(parseHostnameFlag));
}

/** `--attributes` through the agent's own parser, their ValidationError as a usage error. */
export function parseAgentFlag<T>(flagName: string, parse: (raw: string) => T, raw: string | undefined): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return parse(raw);
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(`${flagName}: ${err.message}`);
    throw err;
  }
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('agent')
    .description('run an agent that offers this host to a master')
    .addOption(masterOption())
    .addOption(new Option('--host <address>', 'address to listen on').default('0.0.0.0').argParser(flag(parseHost)))
    .addOption(new Option('--port <port>', 'port to listen on (0: any free port)').default(5051).argParser(flag(parsePort)))
    .addOption(new Option('--advertise-ip <ip>', 'the IP the master and clients reach this agent at').argParser(flag(parseIp)))
    .addOption(new Option('--work-dir <dir>', 'checkpoints and sandboxes').default(DEFAULT_WORK_DIR).argParser(flag(parseWorkDir)))
    .addOption(resourcesOption())
    .addOption(reservedMemOption())
    .addOption(isolationOption())
    .addOption(new Option('--cgroups-root <name>', "cgroup beneath the agent's own").default('tessera').argParser(flag(parseCgroupsRoot)))
    .addOption(dockerOption())
    .addOption(attributesOption())
    .addOption(hostnameOption())
    .action(async (options: AgentCommandOptions) => setExitCode(await agent(options)));
}

export async function agent(options: AgentCommandOptions): Promise<number> {
  // Loaded here, not at the top: client commands (run, ps…) need not load the daemons' dependencies.
  const { Agent, parseResources, parseAttributes } = await import('../../agent/index.js');
  const resources = parseResourcesFlag(parseResources, options.resources);
  const attributes = parseAgentFlag('--attributes', parseAttributes, options.attributes);
  const hostname = options.hostname;
  const logger = createLogger('agent');
  let instance: Awaited<ReturnType<typeof Agent.create>>;
  try {
    instance = await Agent.create({
      host: options.host,
      port: options.port,
      master: options.master.kind === 'zk' ? options.master.raw : options.master.address.hostPort,
      workDir: options.workDir,
      isolation: options.isolation,
      cgroupsRoot: options.cgroupsRoot,
      docker: options.docker,
      onPullProgress: pullProgressReporter(),
      logger,
      ...(options.advertiseIp === undefined ? {} : { advertiseIp: options.advertiseIp }),
      ...(resources === undefined ? {} : { resources }),
      ...(options.reservedMem === undefined ? {} : { reservedMemMb: options.reservedMem }),
      ...(attributes === undefined ? {} : { attributes }),
      ...(hostname === undefined ? {} : { hostname }),
    });
  } catch (err) {
    throw startFailure('agent', err);
  }
  // Handle signals before saying we are up: whoever waits for that line may signal at once.
  const stopped = runUntilSignal([{ name: 'agent', stop: () => instance.stop() }]);
  process.stderr.write(
    `agent listening on ${options.host}:${instance.port}, reachable at ${instance.url}; master ${options.master.text}\n`,
  );
  return stopped;
}
