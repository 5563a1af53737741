import { setEventSourceFactory } from '@/composables/use-event-stream';
import { demoSite } from './demo-site';
import { FakeEventSource, type EventFeed } from './fake-event-source';

/**
 * Gives the console (in jsdom) an event stream fed by the demo site, so an
 * alert the demo site raises arrives live as it would from the real site.
 * Undo with `setEventSourceFactory(undefined)`.
 */
export function installDemoEventStream(): EventFeed {
  const feed = demoSite.alerts.events;
  setEventSourceFactory(
    (url) => new FakeEventSource(url, feed, demoSite.session?.userId ?? 'unknown'),
  );
  return feed;
}
