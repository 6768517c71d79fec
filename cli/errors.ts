// Errors of the `tessera` command. Each carries the process exit code it ends the command with.
import { TesseraError, type ErrorOptions } from '../common/index.js';

/** Exit codes: 1 the command failed, 2 it was used wrongly (bad flag, rejected request), 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** A failure to report to the user as `error: <message>`, without a stack trace. */
export class CliError extends TesseraError {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
    options: ErrorOptions = {},
  ) {
    super(exitCode === EXIT.usage ? 'CLI_USAGE' : 'CLI_FAILED', message, options);
  }
}

/** A flag or argument with a bad value (exit code 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}
