// Errors of the command executor's spawner. The executor turns both into LAUNCH_FAILED for its callers.
import { TesseraError, type ErrorOptions } from '../../common/index.js';

export type SpawnerErrorCode =
  /** The spawner process ended (or could not start) before it answered. */
  | 'SPAWNER_ENDED'
  /** The spawner could not start or release a wrapper; `errno` is the system's reason (ENOENT…). */
  | 'SPAWN_FAILED';

export class SpawnerError extends TesseraError {
  declare readonly code: SpawnerErrorCode;
  constructor(
    code: SpawnerErrorCode,
    message: string,
    readonly errno?: string,
    options: ErrorOptions = {},
  ) {
    super(code, message, options);
  }
}
