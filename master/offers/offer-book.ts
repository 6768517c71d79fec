// Outstanding offers: resources the allocator handed to a framework that it has neither accepted nor
// declined yet. An offer is used at most once; what it holds goes back to the allocator when it is
// declined, rescinded, timed out or only partly used.
import type { Resources } from '../../common/index.js';

export interface Offer {
  id: string;
  frameworkId: string;
  agentId: string;
  resources: Resources;
  /** Clock ms when it was made (offer timeout). */
  createdMs: number;
}

export class OfferBook {
  private readonly offers = new Map<string, Offer>();
  /** Offer ids by agent (asked on every (re-)registration, thousands per second after a failover) and by framework. */
  private readonly byAgent = new Map<string, Set<string>>();
  private readonly byFramework = new Map<string, Set<string>>();

  add(offer: Offer): void {
    this.offers.set(offer.id, offer);
    index(this.byAgent, offer.agentId, offer.id);
    index(this.byFramework, offer.frameworkId, offer.id);
  }

  get(offerId: string): Offer | undefined {
    return this.offers.get(offerId);
  }

  /** Takes the offer out (used, declined or rescinded); undefined if it was not outstanding. */
  take(offerId: string): Offer | undefined {
    const offer = this.offers.get(offerId);
    if (!offer) return undefined;
    this.offers.delete(offerId);
    unindex(this.byAgent, offer.agentId, offerId);
    unindex(this.byFramework, offer.frameworkId, offerId);
    return offer;
  }

  forFramework(frameworkId: string): Offer[] {
    return this.lookup(this.byFramework.get(frameworkId));
  }

  forAgent(agentId: string): Offer[] {
    return this.lookup(this.byAgent.get(agentId));
  }

  private lookup(ids: ReadonlySet<string> | undefined): Offer[] {
    return [...(ids ?? [])].flatMap((id) => this.offers.get(id) ?? []);
  }

  /** Offers made before `beforeMs`. */
  olderThan(beforeMs: number): Offer[] {
    return [...this.offers.values()].filter((o) => o.createdMs < beforeMs);
  }

  get size(): number {
    return this.offers.size;
  }
}

function index(map: Map<string, Set<string>>, key: string, offerId: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(offerId);
}

function unindex(map: Map<string, Set<string>>, key: string, offerId: string): void {
  const set = map.get(key);
  set?.delete(offerId);
  if (set?.size === 0) map.delete(key);
}
