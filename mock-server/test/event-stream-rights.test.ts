import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventStream, type EventStream } from './support/event-stream';
import { Client, startTestSite, type TestSite } from './support/test-site';

const REASON = 'ticket 3: access review';

/** The live stream follows the rights of the moment, not those it opened with (AL-2, ID-2). */
describe('event stream rights (AL-2)', () => {
  let site: TestSite;
  const streams: EventStream[] = [];

  beforeEach(async () => {
    // Heartbeats far apart: what ends a stream here must not be the next heartbeat.
    site = await startTestSite({ heartbeatMs: 60_000 });
  });
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await site.stop();
  });

  async function signedIn(userId: string): Promise<Client> {
    const client = new Client(site.site.url);
    expect((await client.signIn(userId)).status).toBe(200);
    return client;
  }

  async function streamOf(client: Client): Promise<EventStream> {
    const stream = await openEventStream(site.site.url, client.cookieHeader);
    streams.push(stream);
    expect(stream.status).toBe(200);
    await stream.next('hello');
    return stream;
  }

  function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    return Promise.race([
      promise,
      new Promise<T>((_, fail) => setTimeout(() => fail(new Error(`${what} within ${ms} ms`)), ms)),
    ]);
  }

  it('stops sending alerts to an administrator once the role is gone', async () => {
    const admin = await signedIn('admin');
    const admin2 = await signedIn('admin2');
    const watching = await streamOf(admin);
    const demoted = await streamOf(admin2);

    const before = await new Client(site.site.url, '127.0.0.2').signIn('operator', 'wrong-one');
    expect(before.status).toBe(401);
    await watching.next('alert');
    await demoted.next('alert');

    const answer = await admin.request('PUT', '/api/admin/users/admin2/roles', {
      json: { roles: ['operator'], reason: REASON },
    });
    expect(answer.status).toBe(200);

    await new Client(site.site.url, '127.0.0.2').signIn('operator', 'wrong-two');
    const alert = await watching.next('alert');
    expect(alert).toMatchObject({ alert: { kind: 'bad_password', userId: 'operator' } });
    // Both streams were handed the alert at the same moment; give admin2's time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(demoted.events.filter((e) => e.type === 'alert')).toEqual([]);
    // The stream itself stays open: admin2 is still signed in, as an operator.
    expect((await admin2.request('GET', '/api/auth/session')).status).toBe(200);
  });

  it('ends the stream at once when its session signs out', async () => {
    const admin = await signedIn('admin');
    const stream = await streamOf(admin);
    expect((await admin.request('POST', '/api/auth/logout')).status).toBe(200);
    await within(stream.ended, 3000, 'the stream did not end');
    await new Client(site.site.url, '127.0.0.2').signIn('operator', 'wrong-one');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stream.events.filter((e) => e.type === 'alert')).toEqual([]);
  });

  it('ends the streams of a user whose sessions an administrator ends, or who is disabled', async () => {
    const admin = await signedIn('admin');
    const restorer = await streamOf(await signedIn('restorer'));
    const admin2 = await streamOf(await signedIn('admin2'));
    const ended = await admin.request('POST', '/api/admin/users/restorer/end-sessions', {
      json: { reason: REASON },
    });
    expect(ended.status).toBe(200);
    await within(restorer.ended, 3000, 'the restorer’s stream did not end');

    const disabled = await admin.request('POST', '/api/admin/users/admin2/disable', {
      json: { reason: REASON },
    });
    expect(disabled.status).toBe(200);
    await within(admin2.ended, 3000, 'the disabled administrator’s stream did not end');
  });
});
