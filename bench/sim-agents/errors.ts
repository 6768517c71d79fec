// Errors of the simulated agent fleet.
import { TesseraError, type ErrorOptions } from '../../common/index.js';

export type SimAgentErrorCode =
  /** Nothing answered, or the answer was not HTTP/JSON (the master died, a socket reset). */
  | 'UNREACHABLE'
  /** The master answered with a non-2xx status. */
  | 'HTTP_STATUS'
  /** No leading master is known. */
  | 'NO_LEADER'
  /** The fleet's worker process failed or went away. */
  | 'FLEET_PROCESS';

export class SimAgentError extends TesseraError {
  constructor(
    code: SimAgentErrorCode,
    message: string,
    options: ErrorOptions & { status?: number } = {},
  ) {
    super(code, message, options);
    this.status = options.status;
  }
  /** The HTTP status, for HTTP_STATUS. */
  readonly status: number | undefined;
}
