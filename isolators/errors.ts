// Errors of isolators/. Codes: CGROUP_SETUP_FAILED (prepare/update/isolate could not write the
// cgroup), CANCELLED (watch ended by cleanup), NOT_FOUND (no such container), NO_CGROUPS (cgroups
// were required but none is usable), KILL_FAILED (processes survived kill's deadline),
// CGROUP_REMOVE_FAILED (rmdir kept failing).
import { TesseraError, type ErrorOptions } from '../common/index.js';

export type IsolatorErrorCode =
  | 'CGROUP_SETUP_FAILED'
  | 'CANCELLED'
  | 'NOT_FOUND'
  | 'NO_CGROUPS'
  | 'KILL_FAILED'
  | 'CGROUP_REMOVE_FAILED';

export class IsolatorError extends TesseraError {
  declare readonly code: IsolatorErrorCode;
  constructor(code: IsolatorErrorCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}
