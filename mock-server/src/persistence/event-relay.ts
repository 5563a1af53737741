import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { Client } from 'pg';
import type { ServerEvent } from '../../../src/core/contract';
import type { Audience, EventBus } from '../domain/events';
import type { Database } from './schema';

/** The channel the instances of one site tell each other their events on (SX-2). */
export const EVENT_CHANNEL = 'custodian_events';

/**
 * The largest payload sent in the notification itself. PostgreSQL refuses a
 * NOTIFY payload of 8000 bytes or more; a larger event is kept in
 * `EVENT_TABLE` and only its row's ID is sent.
 */
export const NOTIFY_LIMIT_BYTES = 7_900;

/** Where events too large for a notification wait for the other instances to read them. */
export const EVENT_TABLE = 'custodian_relayed_events';

/** How long a large event's row is kept: every listening instance reads it within moments. */
const KEEP_ROWS = "interval '10 minutes'";

/** The advisory lock under which an instance makes `EVENT_TABLE` ("relay" in ASCII). */
const TABLE_LOCK_ID = 0x72656c6179n;

/** What goes through the channel: the event itself, or the row it waits in. */
type Notice =
  | { readonly origin: string; readonly event: ServerEvent; readonly audience: Audience }
  | { readonly origin: string; readonly id: number }
  | { readonly origin: string; readonly account: string };

export interface EventRelay {
  /** This instance's ID: notifications it sent itself carry it and are ignored. */
  readonly origin: string;
  /** Whether the listening connection is up now. */
  readonly listening: boolean;
  /** Resolves once every event published so far has been handed to the server. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

export interface EventRelayOptions {
  /** Notices: a dropped listening connection, a failed send. */
  readonly log?: (message: string) => void;
  /** The first wait before listening again after the connection dropped; doubled up to 30 s. */
  readonly reconnectMs?: number;
  /** Account changes (sign-outs, roles) to relay as well, so streams on every instance check at once. */
  readonly accounts?: {
    relayTo(relay: ((userId: string) => void) | undefined): void;
    noteAccountChange(userId: string): void;
  };
}

/**
 * Relays `bus`'s events between the instances of one site on one PostgreSQL
 * database (SX-2): what this instance publishes is delivered to its own
 * streams at once by the bus, and sent with `pg_notify` through `db`; a
 * dedicated connection LISTENs and delivers the other instances' events,
 * ignoring its own. Events keep the order this instance published them in.
 * When the listening connection drops it is opened again (with a growing
 * wait, and said in the log); events sent while it was down are not heard
 * by this instance: the stream's events are live notices, and every screen
 * reads the state itself when it opens or reconnects.
 */
export async function startEventRelay(
  url: string,
  db: Kysely<Database>,
  bus: EventBus,
  options: EventRelayOptions = {},
): Promise<EventRelay> {
  const origin = randomUUID();
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const firstWait = options.reconnectMs ?? 1_000;
  await createTable(db);

  let sending = Promise.resolve();
  const send = (notice: Notice): void => {
    sending = sending
      .then(() => notify(db, notice))
      .catch((error: unknown) =>
        log(`An event could not be relayed to the site's other instances: ${messageOf(error)}`),
      );
  };
  bus.relayTo((event, audience) => send({ origin, event, audience }));
  options.accounts?.relayTo((userId) => send({ origin, account: userId }));

  let receiving = Promise.resolve();
  const receive = (payload: string | undefined): void => {
    receiving = receiving.then(async () => {
      try {
        const notice = JSON.parse(payload ?? '') as Notice;
        if (notice.origin === origin) return;
        if ('account' in notice) return options.accounts?.noteAccountChange(notice.account);
        const whole = 'id' in notice ? await stored(db, notice.id) : notice;
        if (whole && 'event' in whole) bus.deliver(whole.event, whole.audience);
      } catch (error) {
        log(`An event from another instance of the site could not be read: ${messageOf(error)}`);
      }
    });
  };

  let client: Client | undefined;
  let closed = false;
  let wait = firstWait;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listen = async (): Promise<void> => {
    const next = new Client({ connectionString: url, application_name: 'custodian-events' });
    const dropped = (error?: Error): void => {
      if (client !== next) return;
      client = undefined;
      next.removeAllListeners('notification');
      void next.end().catch(() => undefined);
      if (closed) return;
      log(
        `The connection on which this instance hears the others' events dropped${error ? ` (${messageOf(error)})` : ''}; listening again in ${wait} ms.`,
      );
      again();
    };
    next.on('error', dropped);
    next.on('end', () => dropped());
    next.on('notification', (message) => {
      if (message.channel === EVENT_CHANNEL) receive(message.payload);
    });
    client = next;
    try {
      await next.connect();
      await next.query(`listen ${EVENT_CHANNEL}`);
    } catch (error) {
      dropped(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    wait = firstWait;
  };
  const again = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const waited = wait;
      wait = Math.min(waited * 2, 30_000);
      listen().then(
        () => log('This instance hears the other instances’ events again.'),
        () => undefined,
      );
    }, wait);
    timer.unref();
  };
  await listen();

  return {
    origin,
    get listening() {
      return client !== undefined;
    },
    flushed: () => sending,
    async close() {
      closed = true;
      clearTimeout(timer);
      bus.relayTo(undefined);
      options.accounts?.relayTo(undefined);
      await sending;
      const last = client;
      client = undefined;
      await last?.end().catch(() => undefined);
    },
  };
}

/** Makes the table of large events once; two instances starting at once take turns. */
async function createTable(db: Kysely<Database>): Promise<void> {
  await db.connection().execute(async (connection) => {
    await sql`select pg_advisory_lock(${sql.lit(TABLE_LOCK_ID)})`.execute(connection);
    try {
      await sql`create table if not exists ${sql.table(EVENT_TABLE)} (
        id bigserial primary key,
        payload text not null,
        created_at timestamptz not null default now()
      )`.execute(connection);
    } finally {
      await sql`select pg_advisory_unlock(${sql.lit(TABLE_LOCK_ID)})`.execute(connection);
    }
  });
}

/** Sends `notice` on the channel, or, when too large for a notification, its row's ID. */
async function notify(db: Kysely<Database>, notice: Notice): Promise<void> {
  const payload = JSON.stringify(notice);
  if (Buffer.byteLength(payload, 'utf8') <= NOTIFY_LIMIT_BYTES) {
    await sql`select pg_notify(${EVENT_CHANNEL}, ${payload})`.execute(db);
    return;
  }
  await sql`delete from ${sql.table(EVENT_TABLE)} where created_at < now() - ${sql.raw(KEEP_ROWS)}`.execute(
    db,
  );
  await sql`with kept as (
    insert into ${sql.table(EVENT_TABLE)} (payload) values (${payload}) returning id
  ) select pg_notify(${EVENT_CHANNEL}, json_build_object('origin', ${notice.origin}::text, 'id', kept.id)::text) from kept`.execute(
    db,
  );
}

/** A large event another instance kept; undefined when it is gone already. */
async function stored(db: Kysely<Database>, id: number): Promise<Notice | undefined> {
  const { rows } = await sql<{
    payload: string;
  }>`select payload from ${sql.table(EVENT_TABLE)} where id = ${id}`.execute(db);
  return rows[0] ? (JSON.parse(rows[0].payload) as Notice) : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
