// Errors raised by the allocator: only for calls that cannot be right (a caller's bug or bad config).
import { TesseraError } from '../../common/index.js';

/** A bad option (e.g. a role weight ≤ 0) or a call about an agent the allocator was never told of. */
export class AllocatorError extends TesseraError {
  constructor(message: string) {
    super('ALLOCATOR_INVALID', message);
  }
}
