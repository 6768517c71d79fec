// Errors every module shares. Each has a stable `code`; the HTTP layer maps codes to statuses in one place.

export interface ErrorOptions {
  cause?: unknown;
  /** Whether trying the same thing again can help. */
  retryable?: boolean;
}

export class TesseraError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: string,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable ?? false;
  }
}

/** A request body or flag that is wrong; `field` names where (JSON pointer-ish `resources.mem`). */
export class ValidationError extends TesseraError {
  constructor(
    readonly field: string | undefined,
    message: string,
  ) {
    super('INVALID_REQUEST', field ? `${field}: ${message}` : message);
  }
}

export class NotFoundError extends TesseraError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} '${id}' not found`);
  }
}

export class ConflictError extends TesseraError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

export interface RemoteErrorOptions extends ErrorOptions {
  /** What the peer itself said (its error body's `message`, or why nothing answered); default `message`. */
  peerMessage?: string;
  /** The field the peer's error body names, if any. */
  field?: string;
}

/**
 * The peer answered with an error body or could not be reached. `message` names the request
 * (`METHOD url: status …`) for logs; `peerMessage` and `field` are the peer's own words, for users.
 */
export class RemoteError extends TesseraError {
  readonly peerMessage: string;
  readonly field: string | undefined;

  constructor(
    code: string,
    message: string,
    readonly status: number | undefined,
    options: RemoteErrorOptions = {},
  ) {
    super(code, message, options);
    this.peerMessage = options.peerMessage ?? message;
    this.field = options.field;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
