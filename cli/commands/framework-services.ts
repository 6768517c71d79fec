// `tessera framework services`: the Marathon-like services framework daemon, until SIGINT/SIGTERM.
// With --zk several instances elect a leader and share their state in ZooKeeper; without, one instance
// keeps its state in --work-dir.
import { join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { createLogger } from '../../common/index.js';
import { DEFAULT_WORK_DIR, parseDuration, parseHost, parsePort, parseWorkDir, parseZkFlag } from '../args.js';
import { runUntilSignal, startFailure } from '../daemon.js';
import { flag } from '../options.js';
import { frameworkCommand } from './framework.js';

export interface FrameworkServicesOptions {
  master: string;
  /** Checked by parseZkFlag, kept as written (the runtime parses it again). */
  zk?: string;
  host: string;
  port: number;
  advertiseHost?: string;
  workDir: string;
  zkSessionTimeout: number;
  name: string;
  role?: string;
}


export function register(program: Command, setExitCode: (code: number) => void): void {
  frameworkCommand(program)
    .command('services')
    .description('run the services framework (Marathon-compatible /v2/apps API): keeps long-running apps at their declared instances')
    .addOption(new Option('--master <host:port|zk://…>', 'the master, or ZooKeeper to find it in (zk://host:2181/tessera)').default('127.0.0.1:5050'))
    .addOption(new Option('--zk <url>', 'elect a leader and keep state in ZooKeeper: zk://host:2181/tessera-services').argParser(flag((raw) => (parseZkFlag(raw), raw))))
    .addOption(new Option('--host <address>', 'address the API listens on').default('0.0.0.0').argParser(flag(parseHost)))
    .addOption(new Option('--port <port>', 'API port (0: any free port)').default(8080).argParser(flag(parsePort)))
    .addOption(new Option('--advertise-host <host>', 'the address other instances redirect clients to (default: --host, or 127.0.0.1)'))
    .addOption(new Option('--work-dir <dir>', 'state without --zk').default(join(DEFAULT_WORK_DIR, 'services')).argParser(flag(parseWorkDir)))
    .addOption(new Option('--zk-session-timeout <duration>', 'ZooKeeper session timeout').default(10_000, '10s').argParser(flag(parseDuration)))
    .addOption(new Option('--name <name>', 'the framework name the master shows').default('tessera-services'))
    .addOption(new Option('--role <role>', 'the role to subscribe with'))
    .action(async (options: FrameworkServicesOptions) => setExitCode(await frameworkServices(options)));
}

export async function frameworkServices(options: FrameworkServicesOptions): Promise<number> {
  const { ServicesFramework } = await import('../../frameworks/services/index.js');
  const logger = createLogger('services');
  let framework: Awaited<ReturnType<typeof ServicesFramework.create>>;
  try {
    framework = await ServicesFramework.create({
      master: options.master,
      ...(options.zk === undefined ? {} : { zk: options.zk }),
      workDir: options.workDir,
      host: options.host,
      port: options.port,
      ...(options.advertiseHost === undefined ? {} : { advertiseHost: options.advertiseHost }),
      logger,
      frameworkName: options.name,
      ...(options.role === undefined ? {} : { role: options.role }),
      zkSessionTimeoutMs: options.zkSessionTimeout,
    });
  } catch (err) {
    throw startFailure('services framework', err);
  }
  const stopped = runUntilSignal([{ name: 'services framework', stop: () => framework.stop() }]);
  const mode = options.zk === undefined ? `standalone, state in ${options.workDir}` : `with ZooKeeper ${parseZkFlag(options.zk).redacted}`;
  process.stderr.write(`services framework listening on ${options.host}:${framework.port} (${mode}), master ${options.master}\n`);
  return stopped;
}
