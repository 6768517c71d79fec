// `tessera master`: a standalone master, until SIGINT/SIGTERM.
import type { Command } from 'commander';
import { Option } from 'commander';
import { createLogger } from '../../common/index.js';
import { DEFAULT_WORK_DIR, parseDuration, parseHost, parseIp, parsePort, parseWorkDir } from '../args.js';
import { runUntilSignal, startFailure } from '../daemon.js';
import { flag } from '../options.js';

export interface MasterCommandOptions {
  host: string;
  port: number;
  advertiseIp?: string;
  workDir: string;
  agentTimeout: number;
}

export function register(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('master')
    .description('run a master (standalone: one master, registry on local disk)')
    .addOption(new Option('--host <address>', 'address to listen on').default('0.0.0.0').argParser(flag(parseHost)))
    .addOption(new Option('--port <port>', 'port to listen on (0: any free port)').default(5050).argParser(flag(parsePort)))
    .addOption(new Option('--advertise-ip <ip>', 'the IP agents and clients reach this master at').argParser(flag(parseIp)))
    .addOption(new Option('--work-dir <dir>', 'durable state').default(DEFAULT_WORK_DIR).argParser(flag(parseWorkDir)))
    .addOption(
      new Option('--agent-timeout <duration>', 'an agent silent this long is lost (30s, 500ms, 2m or seconds)')
        .default(30_000, '30s')
        .argParser(flag(parseDuration)),
    )
    .action(async (options: MasterCommandOptions) => setExitCode(await master(options)));
}

export async function master(options: MasterCommandOptions): Promise<number> {
  // Loaded here, not at the top: client commands (run, ps…) need not load the daemons' dependencies.
  const { Master } = await import('../../master/index.js');
  const logger = createLogger('master');
  let instance: Awaited<ReturnType<typeof Master.create>>;
  try {
    instance = await Master.create({
      host: options.host,
      port: options.port,
      workDir: options.workDir,
      agentTimeoutMs: options.agentTimeout,
      logger,
      ...(options.advertiseIp === undefined ? {} : { advertiseIp: options.advertiseIp }),
    });
  } catch (err) {
    throw startFailure('master', err);
  }
  // Handle signals before saying we are up: whoever waits for that line may signal at once.
  const stopped = runUntilSignal([{ name: 'master', stop: () => instance.stop() }]);
  process.stderr.write(`master listening on ${options.host}:${instance.port}, reachable at ${instance.url}\n`);
  return stopped;
}
