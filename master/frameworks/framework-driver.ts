// How the leader talks to a framework, whatever it is: a scheduler-API subscriber on an HTTP stream
// (MesosDriver) or the built-in task framework inside the master. Calls never block the leader.
import type { TaskStatus } from '../../common/index.js';
import type { Offer } from '../offers/index.js';

export interface FrameworkDriver {
  /** New offers (one allocation cycle's worth). */
  offers(offers: readonly Offer[]): void;
  /** An offer it held is no longer valid. */
  rescind(offerId: string): void;
  /**
   * A task of this framework changed state. `acknowledgeable`: sent with its uuid, which the
   * framework acknowledges (reconciliation answers are not).
   */
  update(status: TaskStatus, acknowledgeable: boolean): void;
  /** Something it asked for cannot be done (e.g. it was removed). */
  error(message: string): void;
  /** The connection ends (failed over, torn down, or the leader stepped down). */
  close(): void;
}
