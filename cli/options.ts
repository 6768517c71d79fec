// Commander adapters: flags shared by several commands, and parsers whose UsageError becomes
// commander's InvalidArgumentError (commander then prints which flag was wrong; main.ts exits 2).
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_MASTER, parseMasterTarget, type MasterTarget } from './args.js';
import { UsageError } from './errors.js';

/** Wraps a parser for `Option.argParser`. */
export function flag<T>(parse: (raw: string) => T): (raw: string) => T {
  return (raw: string): T => {
    try {
      return parse(raw);
    } catch (err) {
      if (err instanceof UsageError) throw new InvalidArgumentError(err.message);
      throw err;
    }
  };
}

export function masterOption(): Option {
  return new Option('--master <host:port|zk://…>', 'the master (host:port), or ZooKeeper to find the leader in (zk://host:2181/tessera)')
    .default(parseMasterTarget(DEFAULT_MASTER), DEFAULT_MASTER)
    .argParser(flag((raw) => parseMasterTarget(raw)));
}

export function jsonOption(): Option {
  return new Option('--json', 'print the raw JSON instead of a table');
}

export interface MasterFlag {
  master: MasterTarget;
}
