// Errors raised by the master. The HTTP layer maps their codes to statuses (common's statusForCode).
import { TesseraError, type ErrorOptions } from '../common/index.js';

/** An agent id the master does not know, or no longer treats as active: the agent must re-register. */
export class AgentUnknownError extends TesseraError {
  constructor(agentId: string, why = 'is not registered') {
    super('AGENT_UNKNOWN', `agent '${agentId}' ${why}; re-register`);
  }
}

/** The registry on disk could not be read or written. Not retryable: a human must look. */
export class RegistryError extends TesseraError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('REGISTRY_FAILED', message, options);
  }
}

/** Binding the HTTP port or another setup step failed. */
export class MasterStartError extends TesseraError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('MASTER_START_FAILED', message, options);
  }
}
