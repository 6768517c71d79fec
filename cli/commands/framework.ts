// `tessera framework`: the parent of the framework daemons (services, jobs); made once, whoever registers first.
import type { Command } from 'commander';

export function frameworkCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'framework') ??
    program.command('framework').description('run a framework daemon (services, jobs) that uses the scheduler API')
  );
}
