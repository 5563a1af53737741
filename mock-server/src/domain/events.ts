import type { ServerEvent } from '../../../src/core/contract';

/** Who may see an event: administrators only, or one user (and admins). */
export type Audience =
  { readonly kind: 'admins' } | { readonly kind: 'user'; readonly userId: string };

export type EventListener = (event: ServerEvent, audience: Audience) => void;

/**
 * In-process publish/subscribe feeding the event stream (AL-2). Listeners
 * are the open streams; each filters by its own user's rights.
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: ServerEvent, audience: Audience): void {
    for (const listener of this.listeners) {
      try {
        listener(event, audience);
      } catch {
        // A broken stream must not stop the others from hearing the event.
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
