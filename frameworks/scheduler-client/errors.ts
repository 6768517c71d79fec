// Errors of the scheduler client. Each says what was called, against which master, and what to do.
import { TesseraError, type ErrorOptions } from '../../common/index.js';

export type SchedulerClientErrorCode =
  /** A call while there is no subscribed stream (state named in the message); retry once 'subscribed' fired. */
  | 'NOT_CONNECTED'
  /** The master answered a call with a non-2xx status (the status and the master's words are kept). */
  | 'CALL_REFUSED'
  /** No answer: connection refused/reset, or the call timed out. */
  | 'CALL_FAILED'
  /** SUBSCRIBE was refused (401/403/400…) or its stream was not RecordIO/SUBSCRIBED. */
  | 'SUBSCRIBE_FAILED'
  /** The `master` option cannot be used. */
  | 'BAD_MASTER'
  /** An update without uuid or agent id cannot be acknowledged (Mesos: never acknowledge those). */
  | 'NOT_ACKNOWLEDGEABLE';

const RETRYABLE: ReadonlySet<SchedulerClientErrorCode> = new Set(['NOT_CONNECTED', 'CALL_FAILED']);

export class SchedulerClientError extends TesseraError {
  declare readonly code: SchedulerClientErrorCode;
  constructor(
    code: SchedulerClientErrorCode,
    message: string,
    /** The HTTP status the master answered, when it answered. */
    readonly status?: number,
    options: ErrorOptions = {},
  ) {
    // 503 (no leader / leader suspended) is worth retrying whatever the code.
    super(code, message, { retryable: options.retryable ?? (RETRYABLE.has(code) || status === 503), cause: options.cause });
  }
}
