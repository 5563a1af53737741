import type { ServerEvent } from '@/core/contract';
import type { EventSourceLike } from '@/shared/api/use-event-stream';

/**
 * The site's side of the event stream in the unit tests of the composable
 * (use-event-stream.test.ts): every open fake source hears what is published.
 * Console tests read the in-memory site's own stream (src/testing/fetch-event-source.ts).
 */
export class EventFeed {
  readonly sources = new Set<FakeEventSource>();

  publish(event: ServerEvent): void {
    for (const source of [...this.sources]) source.deliver(event);
  }

  /** Ends every stream as the site does when a session ends. */
  endAll(): void {
    for (const source of [...this.sources]) source.endedBySite();
  }
}

/**
 * An EventSource for jsdom (which has none): it "connects" on the next tick,
 * says hello as the site does, then delivers whatever the feed publishes.
 */
export class FakeEventSource implements EventSourceLike {
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  private readonly listeners = new Map<string, Set<(event: MessageEvent<string>) => void>>();

  constructor(
    readonly url: string,
    private readonly feed: EventFeed,
    userId: string,
  ) {
    feed.sources.add(this);
    setTimeout(() => {
      if (this.readyState === 2) return;
      this.readyState = 1;
      this.onopen?.(new Event('open'));
      this.deliver({ type: 'hello', userId, at: new Date().toISOString() });
    }, 0);
  }

  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
  }

  deliver(event: ServerEvent): void {
    if (this.readyState !== 1) return;
    const message = new MessageEvent<string>(event.type, { data: JSON.stringify(event) });
    for (const listener of [...(this.listeners.get(event.type) ?? [])]) listener(message);
  }

  endedBySite(): void {
    this.readyState = 2;
    this.feed.sources.delete(this);
    this.onerror?.(new Event('error'));
  }

  close(): void {
    this.readyState = 2;
    this.feed.sources.delete(this);
  }
}
