import { afterEach, describe, expect, it, vi } from 'vitest';
import { effectScope } from 'vue';
import type { Alert } from '@/core/contract';
import { EventFeed, FakeEventSource } from '@/testing/fake-event-source';
import {
  connectEventStream,
  RECONNECT_DELAY_MS,
  setEventSourceFactory,
  useEventStream,
} from './use-event-stream';

const alert: Alert = {
  id: 7,
  kind: 'unknown_user',
  userId: 'ghost',
  volumeId: null,
  siteId: 'site',
  clientAddress: '10.0.0.1',
  sentence: 'Sign-in attempt for unknown user "ghost".',
  message: { code: 'unknown_user', params: { userId: 'ghost', clientAddress: '10.0.0.1' } },
  at: '2026-11-21T12:00:00.000Z',
  acknowledgedAt: null,
  acknowledgedBy: null,
};

function install(): { feed: EventFeed; opened: FakeEventSource[] } {
  const feed = new EventFeed();
  const opened: FakeEventSource[] = [];
  setEventSourceFactory((url) => {
    const source = new FakeEventSource(url, feed, 'admin');
    opened.push(source);
    return source;
  });
  return { feed, opened };
}

describe('the tab’s one event stream (AL-2)', () => {
  afterEach(() => {
    setEventSourceFactory(undefined);
    vi.useRealTimers();
  });

  it('is shared by every listener and closes with the last one', async () => {
    const { feed, opened } = install();
    const first = connectEventStream();
    const second = connectEventStream();
    const heard: number[] = [];
    first.on('alert', (e) => heard.push(e.alert.id));
    second.on('alert', (e) => heard.push(e.alert.id * 10));
    expect(opened).toHaveLength(1);
    expect(opened[0]!.url).toBe('/api/events');
    await vi.waitFor(() => expect(first.state.value).toBe('open'));

    feed.publish({ type: 'alert', alert });
    expect(heard).toEqual([7, 70]);

    first.release();
    feed.publish({ type: 'alert', alert });
    expect(heard).toEqual([7, 70, 70]);
    expect(feed.sources.size).toBe(1);
    second.release();
    expect(feed.sources.size).toBe(0);
    expect(second.state.value).toBe('closed');
  });

  it('ignores what does not match the contract', async () => {
    const { opened } = install();
    const stream = connectEventStream();
    const heard: unknown[] = [];
    stream.on('alert', (e) => heard.push(e));
    await vi.waitFor(() => expect(stream.state.value).toBe('open'));
    const source = opened[0]!;
    const listeners = (
      source as unknown as { listeners: Map<string, Set<(e: MessageEvent<string>) => void>> }
    ).listeners.get('alert')!;
    for (const listener of listeners) {
      listener(new MessageEvent('alert', { data: 'not json' }));
      listener(new MessageEvent('alert', { data: JSON.stringify({ type: 'alert', alert: {} }) }));
    }
    expect(heard).toEqual([]);
    stream.release();
  });

  it('opens again after the site ends the stream', async () => {
    vi.useFakeTimers();
    const { feed, opened } = install();
    const stream = connectEventStream();
    await vi.advanceTimersByTimeAsync(1);
    expect(stream.state.value).toBe('open');
    feed.endAll();
    expect(stream.state.value).toBe('closed');
    await vi.advanceTimersByTimeAsync(RECONNECT_DELAY_MS + 1);
    expect(opened).toHaveLength(2);
    expect(stream.state.value).toBe('open');
    stream.release();
  });

  it('says "unsupported" where the browser has no EventSource, and leaves with its scope', () => {
    setEventSourceFactory(undefined);
    const scope = effectScope();
    const stream = scope.run(() => useEventStream())!;
    expect(stream.state.value).toBe(
      typeof EventSource === 'undefined' ? 'unsupported' : 'connecting',
    );
    scope.stop();
    expect(stream.state.value).toBe('closed');
  });
});
