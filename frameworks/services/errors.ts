// Errors of the services framework. HTTP statuses come from common's statusForCode via `code`.
import { TesseraError, type ErrorOptions } from '../../common/index.js';

/** A PUT/DELETE/restart while another deployment of the app runs (Marathon answers 409 unless ?force=true). */
export class AppLockedError extends TesseraError {
  constructor(
    readonly appId: string,
    readonly deploymentIds: string[],
  ) {
    super('CONFLICT', `app '${appId}' is locked by deployment(s) ${deploymentIds.join(', ')}; use ?force=true to override`);
  }
}

/** This instance is not the leader and knows no leader to redirect to. */
export class NotLeaderError extends TesseraError {
  constructor() {
    super('NOT_LEADER', 'this services instance is not leading and no leader is known', { retryable: true });
  }
}

export class ServicesError extends TesseraError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}
