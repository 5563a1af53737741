import type { EventSourceLike } from './use-event-stream';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/**
 * An EventSource read with fetch: for another site's stream (MS-2), which
 * must carry the bearer token that site issued, something a browser's
 * EventSource cannot send; and for jsdom, which has none. By default the
 * request carries the page's session cookie, like the browser's would. The
 * Server-Sent Events framing is parsed as sent. When the site refuses or
 * ends the stream, it is closed (readyState 2) and `onerror` fires, as a
 * browser's EventSource does.
 */
export class FetchEventSource implements EventSourceLike {
  readyState = CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  private readonly listeners = new Map<string, Set<(event: MessageEvent<string>) => void>>();
  private readonly abort = new AbortController();

  constructor(
    readonly url: string,
    private readonly init: {
      headers?: Record<string, string>;
      credentials?: RequestCredentials;
    } = {},
  ) {
    void this.run();
  }

  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
  }

  close(): void {
    this.readyState = CLOSED;
    this.abort.abort();
  }

  private async run(): Promise<void> {
    try {
      const response = await fetch(this.url, {
        headers: { accept: 'text/event-stream', ...this.init.headers },
        credentials: this.init.credentials ?? 'same-origin',
        signal: this.abort.signal,
      });
      if (this.readyState === CLOSED) return;
      if (!response.ok || !response.body) return this.ended();
      this.readyState = OPEN;
      this.onopen?.(new Event('open'));
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.readyState === CLOSED) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted by close(), or the stream broke: either way it has ended.
    }
    this.ended();
  }

  private dispatch(message: string): void {
    if (this.readyState !== OPEN) return;
    let type = 'message';
    const data: string[] = [];
    for (const line of message.split('\n')) {
      if (line.startsWith('event: ')) type = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    const event = new MessageEvent<string>(type, { data: data.join('\n') });
    for (const listener of [...(this.listeners.get(type) ?? [])]) listener(event);
  }

  private ended(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.onerror?.(new Event('error'));
  }
}
