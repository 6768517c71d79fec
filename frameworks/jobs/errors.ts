// Errors of the jobs framework. Definition problems are common's ValidationErrors (400 naming the field).
import { TesseraError } from '../../common/index.js';

/** This instance does not lead (or has not loaded its state yet): the API answers 503. */
export class NotLeadingError extends TesseraError {
  constructor() {
    super('NOT_LEADER', 'this jobs framework instance is not leading (or still loading its state); retry shortly', { retryable: true });
  }
}
