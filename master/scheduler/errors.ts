// Errors of the scheduler API layer. Codes map to statuses in common's statusForCode (one place),
// except NOT_ACCEPTABLE, which the route answers itself (406; statusForCode has no entry for it).
import { TesseraError } from '../../common/index.js';

/** 403: the call is not allowed (framework not subscribed, role not allowed, principal mismatch). */
export class ForbiddenError extends TesseraError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/** 401: missing or wrong credentials. */
export class UnauthorizedError extends TesseraError {
  constructor(message: string) {
    super('UNAUTHORIZED', message);
  }
}

/** 415: a body that is not JSON (Mesos also speaks protobuf; Tessera does not). */
export class UnsupportedMediaTypeError extends TesseraError {
  constructor(message: string) {
    super('UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** 406: the client accepts no response type we produce. */
export class NotAcceptableError extends TesseraError {
  constructor(message: string) {
    super('NOT_ACCEPTABLE', message);
  }
}
