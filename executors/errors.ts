// Errors raised by executors (command and docker). The code says what went wrong; callers map codes
// to task states (e.g. IMAGE_NOT_FOUND → TASK_FAILED with a reason) without parsing messages.
import { TesseraError, type ErrorOptions } from '../common/index.js';

export type ExecutorErrorCode = 'IMAGE_NOT_FOUND' | 'DOCKER_UNAVAILABLE' | 'LAUNCH_FAILED' | 'NOT_RUNNING';

export class ExecutorError extends TesseraError {
  declare readonly code: ExecutorErrorCode;
  constructor(code: ExecutorErrorCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}
