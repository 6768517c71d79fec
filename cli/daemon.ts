// Keeps a daemon command alive until SIGINT/SIGTERM, then stops what it started, in order.
import { ValidationError, errorMessage } from '../common/index.js';
import { CliError, EXIT, UsageError } from './errors.js';

/** How long a clean stop may take before a second signal is no longer needed to end the process. */
const STOP_DEADLINE_MS = 15_000;

export interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

/** Resolves with the exit code once a signal came and every part stopped (in the order given). */
export function runUntilSignal(parts: readonly Stoppable[]): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting without a clean stop\n`);
        process.exit(EXIT.failed);
      }
      stopping = true;
      process.stderr.write(`${signal}: stopping ${parts.map((part) => part.name).join(' and ')} (tasks keep running)…\n`);
      const deadline = setTimeout(() => {
        process.stderr.write('a clean stop took too long; exiting\n');
        process.exit(EXIT.failed);
      }, STOP_DEADLINE_MS);
      deadline.unref();
      void stopAll(parts).then((ok) => {
        clearTimeout(deadline);
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
        resolve(ok ? EXIT.ok : EXIT.failed);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Stops each part in turn; reports each failure by name and keeps going. */
export async function stopAll(parts: readonly Stoppable[]): Promise<boolean> {
  let ok = true;
  for (const part of parts) {
    try {
      await part.stop();
    } catch (err) {
      ok = false;
      process.stderr.write(`error: stopping the ${part.name}: ${errorMessage(err)}\n`);
    }
  }
  return ok;
}

/** A failed daemon start as a user-facing error: a bad option (ValidationError) is a usage error. */
export function startFailure(what: string, err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof ValidationError) return new UsageError(`${what}: ${err.message}`);
  const code = (err as { code?: unknown } | undefined)?.code;
  let hint = '';
  if (code === 'EADDRINUSE') hint = ' (the port is in use: choose another with --port)';
  if (code === 'EACCES' || code === 'EPERM') hint = ' (no permission: run as root or pick a --work-dir you own)';
  return new CliError(`cannot start the ${what}: ${errorMessage(err)}${hint}`, EXIT.failed, { cause: err });
}

/** `parseResources` from the agent, with its ValidationError as a usage error naming the flag. */
export function parseResourcesFlag<T>(parse: (spec: string) => T, spec: string | undefined): T | undefined {
  if (spec === undefined) return undefined;
  try {
    return parse(spec);
  } catch (err) {
    if (err instanceof ValidationError || err instanceof CliError) throw new UsageError(`--resources: ${err.message}`);
    throw err;
  }
}
