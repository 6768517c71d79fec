// Errors of agent/. Codes: CHECKPOINT_CORRUPT (a checkpoint file cannot be parsed), DOCKER_REQUIRED
// (--docker on but no engine answers), UNSUPPORTED_MASTER (a master address this agent cannot use),
// FORBIDDEN (a file outside the sandboxes was asked for; the HTTP layer maps it to 403), STOPPED (a
// checkpoint write after the agent stopped: the next agent owns the work dir).
import { TesseraError, type ErrorOptions } from '../common/index.js';

export type AgentErrorCode = 'STOPPED' | 'CHECKPOINT_CORRUPT' | 'DOCKER_REQUIRED' | 'UNSUPPORTED_MASTER' | 'FORBIDDEN';

export class AgentError extends TesseraError {
  declare readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}
