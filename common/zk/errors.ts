// Errors of Tessera's ZooKeeper layer. Messages name the znode path and say what to do.
import { TesseraError, type ErrorOptions } from '../errors.js';

export type ZkErrorCode =
  | 'BAD_ZK_URL'
  | 'ZK_UNREACHABLE'
  | 'ZK_NO_AUTH'
  | 'ZK_NODE_EXISTS'
  | 'ZK_NO_NODE'
  | 'ZK_BAD_VERSION'
  | 'ZK_SESSION_EXPIRED'
  | 'ZK_CONNECTION_LOSS'
  | 'NO_LEADER'
  | 'ZK_FAILED';

/** Codes where trying again (on the same or a new session) can help. */
const RETRYABLE: ReadonlySet<ZkErrorCode> = new Set(['ZK_UNREACHABLE', 'ZK_CONNECTION_LOSS', 'ZK_SESSION_EXPIRED', 'NO_LEADER']);

export class ZkError extends TesseraError {
  declare readonly code: ZkErrorCode;

  constructor(
    code: ZkErrorCode,
    message: string,
    /** The znode the operation was about, if any. */
    readonly path?: string,
    options: ErrorOptions = {},
  ) {
    super(code, message, { retryable: options.retryable ?? RETRYABLE.has(code), cause: options.cause });
  }

  /**
   * A zk:// URL that cannot be used. `field` is the flag or setting it came from (`--zk`), so the
   * CLI can print it like any other flag error.
   */
  static badUrl(text: string, problem: string, field?: string): ZkError {
    const error = new ZkError('BAD_ZK_URL', `${field ? `${field}: ` : ''}invalid ZooKeeper URL '${text}': ${problem} (expected zk://[user:password@]host[:port][,host[:port]...]/path)`);
    return error;
  }
}

export function isZkError(err: unknown, code?: ZkErrorCode): err is ZkError {
  return err instanceof ZkError && (code === undefined || err.code === code);
}
