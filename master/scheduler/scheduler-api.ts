// What the scheduler route needs from the master. The master implements it; the route only parses,
// checks the stream id and delegates.
import type { EventSink } from './event-stream.js';
import type {
  AcceptCall,
  AcknowledgeCall,
  DeclineCall,
  KillCall,
  ReconcileCall,
  SubscribeCall,
} from '../../common/index.js';

export interface SchedulerApi {
  /**
   * Registers or re-subscribes; sends SUBSCRIBED on `sink` itself (it goes out once this returns).
   * Throws ValidationError (400) or TesseraError 'FORBIDDEN' (403: role not allowed, framework_id
   * unknown or removed, principal mismatch).
   */
  subscribe(call: SubscribeCall, sink: EventSink, principal: string | undefined): { frameworkId: string; streamId: string };
  /** The stream id the framework's calls must carry, if it is subscribed. */
  streamIdOf(frameworkId: string): string | undefined;
  /**
   * Optional: the principal the framework subscribed with. When given and authentication is on,
   * a call from another principal is refused (403), as Mesos does.
   */
  principalOf?(frameworkId: string): string | undefined;
  accept(frameworkId: string, accept: AcceptCall['accept']): void;
  decline(frameworkId: string, decline: DeclineCall['decline']): void;
  kill(frameworkId: string, kill: KillCall['kill']): void;
  acknowledge(frameworkId: string, ack: AcknowledgeCall['acknowledge']): void;
  reconcile(frameworkId: string, reconcile: ReconcileCall['reconcile']): void;
  revive(frameworkId: string, roles: string[] | undefined): void;
  suppress(frameworkId: string, roles: string[] | undefined): void;
  teardown(frameworkId: string): void;
}
