import { getCurrentScope, onScopeDispose, readonly, ref, type Ref } from 'vue';
import { apiRoutes, serverEventSchema, type ServerEvent } from '@/core/contract';
import { FetchEventSource } from './fetch-event-source';
import type { SiteAddress } from './request';

/** What the console needs of an EventSource; tests hand in a fake one. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onerror: ((event: Event) => void) | null;
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
}
export type EventSourceFactory = (url: string) => EventSourceLike;

/**
 * `unsupported`: the browser has no EventSource; `connecting`: (re)opening;
 * `open`: events arrive; `closed`: the site ended the stream (for example the
 * session ended) and a new attempt is scheduled.
 */
export type StreamState = 'unsupported' | 'connecting' | 'open' | 'closed';

type EventType = ServerEvent['type'];
type EventOf<T extends EventType> = Extract<ServerEvent, { type: T }>;
type Handler = (event: ServerEvent) => void;

const CLOSED = 2;
/** After the site closes the stream, wait this long before opening it again. */
export const RECONNECT_DELAY_MS = 5_000;

const defaultFactory: EventSourceFactory | undefined =
  typeof EventSource === 'undefined' ? undefined : (url) => new EventSource(url);
let factory = defaultFactory;

/** Tests replace the browser's EventSource; `undefined` restores it. */
export function setEventSourceFactory(next: EventSourceFactory | undefined): void {
  factory = next ?? defaultFactory;
}

/**
 * The one Server-Sent Events stream of this tab (AL-2): every screen that
 * listens shares it, it opens with the first listener and closes with the
 * last. The browser reconnects by itself after a network error; when the site
 * ends the stream, a new attempt follows after a pause.
 */
class EventStreamHub {
  readonly state = ref<StreamState>('closed');

  /** `open` makes the source; undefined makes the tab's own (the browser's EventSource). */
  constructor(private readonly create?: () => EventSourceLike) {}

  private source: EventSourceLike | undefined;
  private users = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private readonly handlers = new Map<EventType, Set<Handler>>();

  acquire(): void {
    this.users++;
    if (this.users === 1) this.open();
  }

  release(): void {
    this.users = Math.max(0, this.users - 1);
    if (this.users === 0) this.shut();
  }

  on(type: EventType, handler: Handler): () => void {
    let set = this.handlers.get(type);
    if (!set) {
      set = new Set();
      this.handlers.set(type, set);
      this.source?.addEventListener(type, this.dispatch);
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  private open(): void {
    const make = this.create ?? (factory && (() => factory!(apiRoutes.events.path)));
    if (!make) {
      this.state.value = 'unsupported';
      return;
    }
    this.state.value = 'connecting';
    const source = make();
    this.source = source;
    source.onopen = () => {
      if (this.source === source) this.state.value = 'open';
    };
    source.onerror = () => {
      if (this.source !== source) return;
      if (source.readyState !== CLOSED) {
        this.state.value = 'connecting';
        return;
      }
      this.state.value = 'closed';
      source.close();
      this.source = undefined;
      this.retry = setTimeout(() => {
        this.retry = undefined;
        if (this.users > 0) this.open();
      }, RECONNECT_DELAY_MS);
    };
    for (const type of this.handlers.keys()) source.addEventListener(type, this.dispatch);
  }

  private shut(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    this.source?.close();
    this.source = undefined;
    this.state.value = 'closed';
  }

  /** Events are checked against the contract; anything else is ignored. */
  private readonly dispatch = (message: MessageEvent<string>): void => {
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    const parsed = serverEventSchema.safeParse(data);
    if (!parsed.success) return;
    for (const handler of [...(this.handlers.get(parsed.data.type) ?? [])]) handler(parsed.data);
  };
}

const hub = new EventStreamHub();
/** Other sites' streams (MS-2), one per site and token, each with the bearer token it issued. */
const otherHubs = new Map<string, EventStreamHub>();

function hubOf(site: Required<SiteAddress> | undefined): EventStreamHub {
  if (!site) return hub;
  const key = `${site.url}\n${site.token}`;
  let found = otherHubs.get(key);
  if (!found) {
    found = new EventStreamHub(
      () =>
        new FetchEventSource(site.url + apiRoutes.events.path, {
          headers: { authorization: `Bearer ${site.token}` },
          // Cookies never go to another site.
          credentials: 'omit',
        }),
    );
    otherHubs.set(key, found);
  }
  return found;
}

export interface EventStreamConnection {
  readonly state: Readonly<Ref<StreamState>>;
  /** Calls `handler` for each event of this type; returns the unsubscribe. */
  on<T extends EventType>(type: T, handler: (event: EventOf<T>) => void): () => void;
  /** Stops listening; the stream closes when nobody listens any more. */
  release(): void;
}

/**
 * Joins the tab's stream, or with `site` that site's stream (MS-2); pair
 * with `release()` (stores) or use `useEventStream` (components).
 */
export function connectEventStream(site?: Required<SiteAddress>): EventStreamConnection {
  const shared = hubOf(site);
  shared.acquire();
  const unsubscribes = new Set<() => void>();
  let released = false;
  return {
    state: readonly(shared.state),
    on(type, handler) {
      const off = shared.on(type, handler as Handler);
      unsubscribes.add(off);
      return () => {
        off();
        unsubscribes.delete(off);
      };
    },
    release() {
      if (released) return;
      released = true;
      for (const off of unsubscribes) off();
      unsubscribes.clear();
      shared.release();
    },
  };
}

/** Joins the tab's stream for as long as the calling component (or scope) lives. */
export function useEventStream(): EventStreamConnection {
  const connection = connectEventStream();
  if (getCurrentScope()) onScopeDispose(() => connection.release());
  return connection;
}
