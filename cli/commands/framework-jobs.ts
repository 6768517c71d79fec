// `tessera framework jobs`: the Chronos-shaped jobs framework as a daemon until SIGINT/SIGTERM; with
// --zk one of several instances electing a leader, state in ZooKeeper; without, state in --work-dir.
import type { Command } from 'commander';
import { Option } from 'commander';
import { join } from 'node:path';
import { createLogger, type ZkUrl } from '../../common/index.js';
import { DEFAULT_WORK_DIR, parseDuration, parseHost, parsePort, parseWorkDir, parseZkFlag, type MasterTarget } from '../args.js';
import { runUntilSignal, startFailure } from '../daemon.js';
import { flag, masterOption } from '../options.js';
import { frameworkCommand } from './framework.js';

export interface FrameworkJobsOptions {
  master: MasterTarget;
  zk?: ZkUrl;
  zkRaw?: string;
  host: string;
  port: number;
  advertiseHost?: string;
  workDir: string;
  zkSessionTimeout: number;
  role?: string;
}


export function register(program: Command, setExitCode: (code: number) => void): void {
  frameworkCommand(program)
    .command('jobs')
    .description('run the jobs framework (Chronos API: ISO 8601 and cron schedules, dependencies, retries, webhooks)')
    .addOption(masterOption())
    .addOption(new Option('--zk <url>', 'elect a leader among instances and keep state in ZooKeeper: zk://host:2181/tessera-jobs'))
    .addOption(new Option('--host <address>', 'address to listen on').default('0.0.0.0').argParser(flag(parseHost)))
    .addOption(new Option('--port <port>', 'API port (0: any free port)').default(4400).argParser(flag(parsePort)))
    .addOption(new Option('--advertise-host <host>', 'the address other instances redirect clients to (default: --host, or 127.0.0.1)'))
    .addOption(new Option('--work-dir <dir>', 'state without --zk').default(DEFAULT_WORK_DIR).argParser(flag(parseWorkDir)))
    .addOption(new Option('--role <role>', 'the role to subscribe with'))
    .addOption(
      new Option('--zk-session-timeout <duration>', 'ZooKeeper session timeout').default(10_000, '10s').argParser(flag(parseDuration)),
    )
    .action(async (raw: Omit<FrameworkJobsOptions, 'zk' | 'zkRaw'> & { zk?: string }) => {
      const { zk, ...rest } = raw;
      const options: FrameworkJobsOptions = zk === undefined ? rest : { ...rest, zk: flag(parseZkFlag)(zk), zkRaw: zk.trim() };
      setExitCode(await frameworkJobs(options));
    });
}

export async function frameworkJobs(options: FrameworkJobsOptions): Promise<number> {
  const { JobsFramework } = await import('../../frameworks/jobs/index.js');
  const logger = createLogger('jobs');
  const master = options.master.kind === 'zk' ? options.master.raw : options.master.address.hostPort;
  let framework: Awaited<ReturnType<typeof JobsFramework.create>>;
  try {
    framework = await JobsFramework.create({
      master,
      ...(options.zkRaw === undefined ? {} : { zk: options.zkRaw }),
      workDir: join(options.workDir, 'jobs'),
      host: options.host,
      port: options.port,
      ...(options.advertiseHost === undefined ? {} : { advertiseHost: options.advertiseHost }),
      ...(options.role === undefined ? {} : { role: options.role }),
      zkSessionTimeoutMs: options.zkSessionTimeout,
      logger,
    });
  } catch (err) {
    throw startFailure('jobs framework', err);
  }
  const stopped = runUntilSignal([{ name: 'jobs framework', stop: () => framework.stop() }]);
  const mode = options.zk === undefined ? `state in ${join(options.workDir, 'jobs')}` : `with ZooKeeper ${options.zk.redacted}`;
  process.stderr.write(
    `jobs framework listening on ${options.host}:${framework.port} (${mode}; ${framework.leading ? 'leading' : 'standing by'}), master ${options.master.text}\n`,
  );
  return stopped;
}
