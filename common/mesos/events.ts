// Builders for the events the master sends, so callers cannot get a shape wrong.
import type { MesosEvent, MesosMasterInfo, MesosOffer, MesosTaskStatus } from './mesos-types.js';

export function subscribedEvent(frameworkId: string, heartbeatIntervalSeconds: number, masterInfo?: MesosMasterInfo): MesosEvent {
  return {
    type: 'SUBSCRIBED',
    subscribed: {
      framework_id: { value: frameworkId },
      heartbeat_interval_seconds: heartbeatIntervalSeconds,
      ...(masterInfo === undefined ? {} : { master_info: masterInfo }),
    },
  };
}

export function offersEvent(offers: MesosOffer[]): MesosEvent {
  return { type: 'OFFERS', offers: { offers } };
}

export function rescindEvent(offerId: string): MesosEvent {
  return { type: 'RESCIND', rescind: { offer_id: { value: offerId } } };
}

export function updateEvent(status: MesosTaskStatus): MesosEvent {
  return { type: 'UPDATE', update: { status } };
}

export function failureEvent(agentId: string): MesosEvent {
  return { type: 'FAILURE', failure: { agent_id: { value: agentId } } };
}

export function errorEvent(message: string): MesosEvent {
  return { type: 'ERROR', error: { message } };
}

export const HEARTBEAT_EVENT: MesosEvent = Object.freeze({ type: 'HEARTBEAT' });
