// The in-process event bus behind /v2/events: the keeper and the API publish, SSE clients subscribe.
import type { ServiceEvent } from './model.js';

export type EventListener = (event: ServiceEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  publish(event: ServiceEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // one broken subscriber must not stop the others
      }
    }
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }
}
