#!/usr/bin/env node
// The `tessera` command: wiring only. Each command lives in commands/<name>.ts and returns an exit code;
// failures reach here as errors and become one `error: …` line and an exit code, never a stack trace.
import { CommanderError, Command } from 'commander';
import { RemoteError, TesseraError, errorMessage } from '../common/index.js';
import { CliError, EXIT } from './errors.js';
import { register as registerAgent } from './commands/agent.js';
import { register as registerAgents } from './commands/agents.js';
import { register as registerApps } from './commands/apps.js';
import { register as registerFrameworkJobs } from './commands/framework-jobs.js';
import { register as registerFrameworkServices } from './commands/framework-services.js';
import { register as registerJobs } from './commands/jobs.js';
import { register as registerKill } from './commands/kill.js';
import { register as registerLogs } from './commands/logs.js';
import { register as registerMaster } from './commands/master.js';
import { register as registerPs } from './commands/ps.js';
import { register as registerRun } from './commands/run.js';
import { register as registerTop } from './commands/top.js';
import { register as registerUp } from './commands/up.js';

const VERSION = '0.1.0';

function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('tessera')
    .description('Tessera: pool hosts into one cluster and run tasks on it')
    .version(VERSION)
    .enablePositionalOptions() // lets `run` pass the command's own flags through
    .showHelpAfterError('(add --help for usage)')
    .exitOverride(); // inherited by the subcommands below: main decides the exit code
  for (const register of [
    registerUp,
    registerMaster,
    registerAgent,
    registerRun,
    registerPs,
    registerKill,
    registerLogs,
    registerTop,
    registerAgents,
    registerFrameworkServices,
    registerFrameworkJobs,
    registerApps,
    registerJobs,
  ]) {
    register(program, setExitCode);
  }
  return program;
}

async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message (or the help/version asked for).
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof RemoteError) {
      process.stderr.write(`error: ${err.peerMessage}${err.status === undefined ? '' : ` (HTTP ${err.status})`}\n`);
      return EXIT.failed;
    }
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    if (!(err instanceof TesseraError) && process.env.TESSERA_DEBUG) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return EXIT.failed;
  }
}

// Exit explicitly: an idle keep-alive connection must not hold a finished command open.
process.exit(await main(process.argv));
