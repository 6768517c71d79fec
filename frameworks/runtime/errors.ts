// Errors of the framework runtime (election + state store). Messages name the key or znode.
import { TesseraError, type ErrorOptions } from '../../common/index.js';

export type RuntimeErrorCode =
  /** A write (or a ZooKeeper read) while this instance does not lead: only the leader touches state. */
  | 'NOT_LEADING'
  /** ZooKeeper refused a write because this instance's election znode is gone: it was deposed. */
  | 'FENCED'
  /** A key that cannot be stored ('' , '/x', 'a//b', '.', '..'). */
  | 'BAD_KEY'
  /** A value that cannot be stored (undefined, not JSON, too large). */
  | 'BAD_VALUE'
  /** Stored data that is not JSON. */
  | 'STATE_CORRUPT'
  /** The store failed for another reason (ZooKeeper or the disk); `cause` says which. */
  | 'STORE_FAILED'
  /** FrameworkInstance.create() options that cannot work. */
  | 'BAD_OPTIONS';

export class RuntimeError extends TesseraError {
  declare readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options: ErrorOptions = {}) {
    super(code, message, options);
  }
}
