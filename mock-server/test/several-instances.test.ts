import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ServerEvent, SiteInfo } from '../../src/core/contract';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import { EventBus, type Audience } from '../src/domain/events';
import {
  EVENT_TABLE,
  NOTIFY_LIMIT_BYTES,
  startEventRelay,
  type EventRelay,
} from '../src/persistence/event-relay';
import { openPostgres, type OpenPostgres } from '../src/persistence/postgres-database';
import { backUp, newOperator, randomImage, requestRelease, restore } from './support/backup-client';
import { openEventStream } from './support/event-stream';
import { startS3rver, type TestObjectStore } from './support/object-stores';
import { createSiteDatabase, describeWithPostgres } from './support/postgres';
import { startSiteProcess, type SiteProcess } from './support/site-process';
import { Client, type HttpAnswer } from './support/test-site';

/**
 * SX-2: several instances of one site behind one address, on one PostgreSQL
 * database, one bucket and one master key. Each instance is a process of
 * its own; a client alternates between them as a load balancer would.
 */

type RequestArgs = Parameters<Client['request']>;

/** A client whose requests go to each live instance in turn, with one cookie jar. */
class AlternatingClient extends Client {
  private turn = 0;
  /** Instances that are gone: no request goes there any more. */
  readonly down = new Set<string>();
  /** How many requests each instance answered. */
  readonly answered = new Map<string, number>();
  /** Called with each answer, before the caller sees it. */
  onAnswer?: (base: string, method: string, urlPath: string, answer: HttpAnswer) => Promise<void>;

  constructor(private readonly bases: readonly string[]) {
    super(bases[0]!);
  }

  override async request(...[method, urlPath, options]: RequestArgs): Promise<HttpAnswer> {
    const live = this.bases.filter((b) => !this.down.has(b));
    const base = live[this.turn++ % live.length]!;
    const answer = await super.request(method, new URL(urlPath, base).href, options);
    this.answered.set(base, (this.answered.get(base) ?? 0) + 1);
    await this.onAnswer?.(base, method, urlPath, answer);
    return answer;
  }
}

describeWithPostgres('several instances of one site (SX-2)', (cluster) => {
  const roots: string[] = [];
  let store: TestObjectStore;
  let url: string;
  let a: SiteProcess;
  let b: SiteProcess;
  let info: SiteInfo;

  const tempRoot = (): string => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-sx2-'));
    roots.push(root);
    return root;
  };

  beforeAll(async () => {
    url = await createSiteDatabase(cluster(), 'several');
    store = await startS3rver();
    const masterKey = path.join(tempRoot(), 'master.key');
    const env = {
      ...store.env(),
      CUSTODIAN_DATABASE_URL: url,
      CUSTODIAN_MASTER_KEY_FILE: masterKey,
    } as Record<string, string>;
    // The first creates the master key (demo mode) and the demo accounts; the second finds both.
    a = await startSiteProcess(tempRoot(), 0, env);
    b = await startSiteProcess(tempRoot(), 0, env);
    info = (await new Client(a.url).request('GET', '/api/site')).json as SiteInfo;
  }, 120_000);

  /** Stops an instance that still runs: SIGTERM, and SIGKILL if it has not ended within 10 s. */
  const stop = async (site: SiteProcess | undefined): Promise<void> => {
    if (!site || site.child.exitCode !== null || site.child.signalCode !== null) return;
    const ended = site.kill('SIGTERM');
    const timer = setTimeout(() => site.child.kill('SIGKILL'), 10_000);
    await ended;
    clearTimeout(timer);
  };

  afterAll(async () => {
    await stop(a);
    await stop(b);
    await store?.close();
    for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  }, 30_000);

  const signedIn = async <C extends Client>(client: C, userId: string): Promise<C> => {
    const answer = await client.signIn(userId);
    if (answer.status !== 200) throw new Error(`sign-in of ${userId}: ${answer.text}`);
    return client;
  };

  it('serves one site: the same ID and keys on both instances', async () => {
    const other = (await new Client(b.url).request('GET', '/api/site')).json as SiteInfo;
    expect(other).toEqual(info);
  });

  it('commits a backup whose requests alternate instances, and restores it byte for byte through the other', async () => {
    const volume = 'sx2-alternating';
    const owner = await signedIn(new AlternatingClient([a.url, b.url]), 'operator');
    const image = randomImage(2 * CHUNK_SIZE + 1000, 21);
    await backUp(await newOperator(owner), info, volume, image, { restorers: ['restorer'] });
    expect(owner.answered.get(a.url)).toBeGreaterThan(2);
    expect(owner.answered.get(b.url)).toBeGreaterThan(2);

    const restorer = await signedIn(new Client(b.url), 'restorer');
    const restored = (await restore(restorer, volume)).image;
    expect(Buffer.from(restored).equals(Buffer.from(image))).toBe(true);
    // The audit chain, written by both instances, holds.
    const admin = await signedIn(new Client(a.url), 'admin');
    expect((await admin.request('POST', '/api/admin/audit/verify')).json).toMatchObject({
      intact: true,
    });
  }, 120_000);

  it('releases a one-time record exactly once to 20 concurrent requests spread over both instances', async () => {
    const volume = 'sx2-one-time';
    const owner = await signedIn(new Client(a.url), 'operator');
    await backUp(await newOperator(owner), info, volume, randomImage(5000, 22), {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    const restorer = await signedIn(new AlternatingClient([a.url, b.url]), 'restorer');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => requestRelease(restorer, volume, 1)),
    );
    expect(restorer.answered.get(a.url)).toBeGreaterThanOrEqual(10);
    expect(restorer.answered.get(b.url)).toBeGreaterThanOrEqual(10);
    expect(answers.filter((r) => r.answer.status === 200)).toHaveLength(1);
    const refused = answers.filter((r) => r.answer.status === 404);
    expect(refused).toHaveLength(19);
    for (const r of refused)
      expect((r.answer.json as { message: string }).message).toContain(
        'may already have been decrypted',
      );
  }, 120_000);

  it('shows an alert raised on one instance on an event stream open on the other, and ends that stream at a sign-out on the first', async () => {
    const volume = 'sx2-alerted';
    const owner = await signedIn(new Client(a.url), 'operator');
    await backUp(await newOperator(owner), info, volume, randomImage(5000, 23), {
      restorers: ['restorer'],
    });
    const admin = await signedIn(new Client(b.url), 'admin');
    const stream = await openEventStream(b.url, admin.cookieHeader);
    try {
      expect(stream.status).toBe(200);
      await stream.next('hello');
      const outsider = await signedIn(new Client(a.url), 'outsider');
      const refused = await requestRelease(outsider, volume, 1);
      expect(refused.answer.status).toBe(403);
      const event = (await stream.next('alert', 10_000)) as Extract<ServerEvent, { type: 'alert' }>;
      expect(event.alert).toMatchObject({ userId: 'outsider', volumeId: volume });

      // The same session, signed out on A: B's stream for it ends at once, not at its next heartbeat.
      const onA = new Client(a.url);
      const token = admin.cookieHeader.split('; ').map((c) => c.split('='));
      for (const [name, value] of token) onA.setCookie(name!, value!);
      expect((await onA.request('POST', '/api/auth/logout')).status).toBeLessThan(300);
      await expect(
        Promise.race([
          stream.ended.then(() => 'ended'),
          new Promise((resolve) => setTimeout(() => resolve('still open'), 5_000)),
        ]),
      ).resolves.toBe('ended');
    } finally {
      stream.close();
    }
  }, 120_000);

  it('loses nothing an instance acknowledged when it is killed mid-backup: the backup goes on on the other and commits', async () => {
    const volume = 'sx2-killed';
    const owner = await signedIn(new AlternatingClient([a.url, b.url]), 'operator');
    let killedAfter: string | undefined;
    owner.onAnswer = async (base, method, urlPath, answer) => {
      if (killedAfter || base !== a.url || method !== 'PUT' || answer.status !== 200) return;
      if (!urlPath.includes('/transfers/')) return;
      // A has acknowledged this transfer: it dies at once (SIGKILL), nothing flushed or closed.
      killedAfter = urlPath;
      await a.kill('SIGKILL');
      owner.down.add(a.url);
    };
    const image = randomImage(3 * CHUNK_SIZE + 1000, 24);
    await backUp(await newOperator(owner), info, volume, image, { restorers: ['restorer'] });
    expect(killedAfter).toMatch(/\/transfers\/\d+$/);
    expect(a.child.exitCode ?? a.child.signalCode).toBe('SIGKILL');

    const restorer = await signedIn(new Client(b.url), 'restorer');
    const restored = (await restore(restorer, volume)).image;
    expect(Buffer.from(restored).equals(Buffer.from(image))).toBe(true);
  }, 180_000);
});

describeWithPostgres('the event relay and the locks between instances (SX-2)', (cluster) => {
  let database: OpenPostgres;
  let dbUrl: string;
  const started: EventRelay[] = [];

  beforeAll(async () => {
    dbUrl = await cluster().createDatabase('relay');
    database = await openPostgres(dbUrl, { log: () => undefined });
  });
  afterAll(async () => {
    for (const relay of started) await relay.close();
    await database?.close();
  });

  /** An instance's bus with a relay, and what its subscribers heard. */
  async function instance(): Promise<{
    bus: EventBus;
    relay: EventRelay;
    heard: ServerEvent[];
    logs: string[];
  }> {
    const bus = new EventBus();
    const heard: ServerEvent[] = [];
    const logs: string[] = [];
    bus.subscribe((event) => heard.push(event));
    const relay = await startEventRelay(dbUrl, database.db, bus, {
      log: (m) => logs.push(m),
      reconnectMs: 50,
    });
    started.push(relay);
    return { bus, relay, heard, logs };
  }

  const until = async (check: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`waited 10 s for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const admins: Audience = { kind: 'admins' };
  const heartbeat = (at: string): ServerEvent => ({ type: 'heartbeat', at });

  it('delivers each event once on every instance, in the order published, the large ones too', async () => {
    const one = await instance();
    const two = await instance();
    // Too large for a notification: it goes through the table, and keeps its place in the order.
    const large = heartbeat('x'.repeat(NOTIFY_LIMIT_BYTES * 3));
    const events = [heartbeat('first'), large, heartbeat('last')];
    for (const event of events) one.bus.publish(event, admins);
    await one.relay.flushed();
    await until(() => two.heard.length === 3, 'the three events on the other instance');
    expect(two.heard).toEqual(events);
    // The publisher heard each once (its own notifications are ignored).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(one.heard).toEqual(events);
    const { rows } = await sql<{
      n: number;
    }>`select count(*)::int as n from ${sql.table(EVENT_TABLE)}`.execute(database.db);
    expect(rows[0]?.n).toBe(1);
  });

  it('listens again when its connection drops, and hears the events sent after that', async () => {
    const one = await instance();
    const two = await instance();
    const killer = await openPostgres(dbUrl, { log: () => undefined });
    try {
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = 'custodian-events' and pid <> pg_backend_pid()`.execute(killer.db);
    } finally {
      await killer.close();
    }
    for (const side of [one, two])
      await until(
        () => side.logs.some((m) => m.includes('hears the other instances’ events again')),
        'both to listen again',
      );
    expect(two.logs[0]).toMatch(
      /The connection on which this instance hears the others' events dropped/,
    );
    expect(two.relay.listening).toBe(true);
    one.bus.publish(heartbeat('after'), admins);
    await until(() => two.heard.length === 1, 'the event sent after the reconnection');
    expect(two.heard).toEqual([heartbeat('after')]);
  });

  it('holds a named lock for one holder at a time across connection pools, as across processes', async () => {
    // Each OpenPostgres has pools of its own: to the server, another process.
    const other = await openPostgres(dbUrl, { log: () => undefined });
    try {
      let inside = 0;
      let most = 0;
      const order: string[] = [];
      const task = (who: string) => async () => {
        inside += 1;
        most = Math.max(most, inside);
        order.push(`${who}+`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        order.push(`${who}-`);
        inside -= 1;
        return who;
      };
      const runs = Array.from({ length: 6 }, (_, i) =>
        (i % 2 === 0 ? database : other).locks.run('users', task(`t${i}`)),
      );
      // Another name is not held up by these.
      const free = await other.locks.run('trusted-sites', async () => 'free');
      expect(free).toBe('free');
      expect(await Promise.all(runs)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
      expect(most).toBe(1);
      expect(order).toHaveLength(12);
      // A failing holder lets the lock go.
      await expect(
        database.locks.run('users', () => Promise.reject(new Error('refused'))),
      ).rejects.toThrow('refused');
      await expect(other.locks.run('users', async () => 'after')).resolves.toBe('after');
    } finally {
      await other.close();
    }
  });
});
