import http from 'node:http';
import type { ServerEvent } from '../../../src/core/contract';

/** Reads a site's Server-Sent Events stream as a browser tab would. */
export interface EventStream {
  readonly events: ServerEvent[];
  readonly status: number;
  /** Settles when the site ends the stream. */
  readonly ended: Promise<void>;
  next(type: ServerEvent['type'], timeoutMs?: number): Promise<ServerEvent>;
  close(): void;
}

export function openEventStream(baseUrl: string, cookie: string): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const events: ServerEvent[] = [];
    const waiters: { type: string; resolve: (e: ServerEvent) => void }[] = [];
    let ended!: () => void;
    const endedPromise = new Promise<void>((resolve) => (ended = resolve));
    const req = http.get(
      new URL('/api/events', baseUrl),
      { headers: { cookie, accept: 'text/event-stream' } },
      (res) => {
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = message
              .split('\n')
              .filter((l) => l.startsWith('data: '))
              .map((l) => l.slice(6))
              .join('\n');
            if (!data) continue;
            const event = JSON.parse(data) as ServerEvent;
            const waiter = waiters.findIndex((w) => w.type === event.type);
            if (waiter >= 0) waiters.splice(waiter, 1)[0]!.resolve(event);
            else events.push(event);
          }
        });
        res.on('error', () => undefined);
        res.on('end', () => ended());
        res.on('close', () => ended());
        resolve({
          events,
          status: res.statusCode ?? 0,
          ended: endedPromise,
          next(type, timeoutMs = 5000) {
            const queued = events.findIndex((e) => e.type === type);
            if (queued >= 0) return Promise.resolve(events.splice(queued, 1)[0]!);
            return new Promise((ok, fail) => {
              const timer = setTimeout(
                () => fail(new Error(`no ${type} event within ${timeoutMs} ms`)),
                timeoutMs,
              );
              waiters.push({
                type,
                resolve: (e) => {
                  clearTimeout(timer);
                  ok(e);
                },
              });
            });
          },
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
  });
}
