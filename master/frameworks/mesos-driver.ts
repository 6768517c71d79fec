// A scheduler-API framework as the leader sees it: leader events turned into Mesos v1 events on the
// framework's RecordIO stream. Sending never blocks (the stream buffers, and cuts a stalled reader).
import { errorEvent, offersEvent, rescindEvent, updateEvent, type AgentInfo, type TaskStatus } from '../../common/index.js';
import type { Offer } from '../offers/index.js';
import { offerToMesos, statusToMesos, type EventSink } from '../scheduler/index.js';
import type { FrameworkDriver } from './framework-driver.js';

export class MesosDriver implements FrameworkDriver {
  constructor(
    private readonly sink: EventSink,
    private readonly role: string,
    /** The agents' addresses and hostnames, for Offer.hostname and Offer.url. */
    private readonly agentInfo: (agentId: string) => AgentInfo | undefined,
  ) {}

  offers(offers: readonly Offer[]): void {
    const mesos = offers.map((offer) => {
      const agent = this.agentInfo(offer.agentId);
      return offerToMesos({
        id: offer.id,
        frameworkId: offer.frameworkId,
        agentId: offer.agentId,
        hostname: agent?.hostname ?? offer.agentId,
        resources: offer.resources,
        role: this.role,
        ...(agent ? { agentUrl: { ip: agent.ip, port: agent.port } } : {}),
        ...(agent?.attributes ? { attributes: agent.attributes } : {}),
      });
    });
    this.sink.send(offersEvent(mesos));
  }

  rescind(offerId: string): void {
    this.sink.send(rescindEvent(offerId));
  }

  update(status: TaskStatus, acknowledgeable: boolean): void {
    this.sink.send(updateEvent(statusToMesos(status, { withUuid: acknowledgeable })));
  }

  error(message: string): void {
    this.sink.send(errorEvent(message));
  }

  close(): void {
    this.sink.close();
  }
}
