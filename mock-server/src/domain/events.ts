import type { Role, ServerEvent } from '../../../src/core/contract';

/** Who may see an event: administrators only, or one user (and admins). */
export type Audience =
  { readonly kind: 'admins' } | { readonly kind: 'user'; readonly userId: string };

export type EventListener = (event: ServerEvent, audience: Audience) => void;

/**
 * Publish/subscribe feeding the event stream (AL-2). Listeners are the open
 * streams; each filters by its own user's rights. In process by default;
 * several instances of one site (SX-2) also hand what they publish to a
 * relay (`relayTo`: PostgreSQL LISTEN/NOTIFY, persistence/event-relay.ts),
 * which gives each instance the others' events through `deliver`.
 */
export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private relay: EventListener | undefined;

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells this instance's subscribers at once, and the other instances through the relay. */
  publish(event: ServerEvent, audience: Audience): void {
    this.deliver(event, audience);
    this.relay?.(event, audience);
  }

  /** Tells this instance's subscribers only: an event another instance published, or this one. */
  deliver(event: ServerEvent, audience: Audience): void {
    for (const listener of this.listeners) {
      try {
        listener(event, audience);
      } catch {
        // A broken stream must not stop the others from hearing the event.
      }
    }
  }

  /** Where published events go besides this instance's subscribers; undefined: nowhere. */
  relayTo(relay: EventListener | undefined): void {
    this.relay = relay;
  }

  get size(): number {
    return this.listeners.size;
  }
}

/** Who is behind a stream right now, as the session and the account say. */
export interface Listener {
  readonly userId: string;
  readonly roles: readonly Role[];
}

export function hears(listener: Listener, audience: Audience): boolean {
  const isAdmin = listener.roles.includes('admin');
  return audience.kind === 'admins' ? isAdmin : isAdmin || audience.userId === listener.userId;
}

/** One open stream's hold on the bus. */
export interface Following {
  /** Checks the session again and sends `event` (if any) when it still holds. */
  deliver(event?: () => ServerEvent): void;
  stop(): void;
}

/**
 * Follows the bus for one session (AL-2, ID-2). Rights are read afresh
 * before every event is sent, not once when the stream opens: a demoted
 * administrator stops hearing alerts at once, and a session that was signed
 * out, ended or disabled ends its stream (`end`) instead of hearing more.
 * Events keep their order: each waits for the check of the one before.
 */
export function follow(
  bus: EventBus,
  stream: {
    /** The session's listener now; rejects when the session no longer holds. */
    readonly current: () => Promise<Listener>;
    readonly send: (event: ServerEvent) => void;
    readonly end: () => void;
  },
): Following {
  let queue = Promise.resolve();
  let stopped = false;
  const deliver = (pick: (listener: Listener) => ServerEvent | undefined): void => {
    queue = queue.then(async () => {
      if (stopped) return;
      let listener: Listener;
      try {
        listener = await stream.current();
      } catch {
        following.stop();
        stream.end();
        return;
      }
      if (stopped) return;
      const event = pick(listener);
      if (event) stream.send(event);
    });
  };
  const unsubscribe = bus.subscribe((event, audience) =>
    deliver((listener) => (hears(listener, audience) ? event : undefined)),
  );
  const following: Following = {
    deliver: (event) => deliver(() => event?.()),
    stop: () => {
      stopped = true;
      unsubscribe();
    },
  };
  return following;
}
