import { http, HttpResponse } from 'msw';
import { setEventSourceFactory } from '@/composables/use-event-stream';
import {
  CSRF_HEADER,
  CSRF_HEADER_VALUE,
  type AuditEntry,
  type Role,
  type SessionInfo,
} from '@/core/contract';
import { server } from '@/mocks/node';
import { createBrowserSite, type BrowserSite } from '@/mocks/site/browser-site';
import { SESSION_COOKIE } from '@/mocks/site/msw-router';
import { demoPassword } from '../../mock-server/src/demo';
import type { Caller } from '../../mock-server/src/domain/escrow/context';
import type { Clock } from '../../mock-server/src/domain/ports';
import type { AdminAction, Principal } from '../../mock-server/src/domain/identity';
import type { AlertMailer } from '../../mock-server/src/platform/alert-mailer';
import {
  backUp,
  newOperator,
  randomImage,
  requestRelease,
  type BackupOptions,
  type BackupResult,
  type Operator,
} from '../../mock-server/test/support/backup-client';
import type { Client, HttpAnswer } from '../../mock-server/test/support/test-site';
import { FetchEventSource } from './fetch-event-source';

/** The page's origin in jsdom: where the console's own requests go. */
const pageUrl = (path: string): string => new URL(path, window.location.href).toString();

/**
 * Another browser of a signed-in user: an operator backing up, a restorer
 * asking for a key, while the console is under test. It sends its session
 * cookie itself and its requests go to a host of their own; it never signs in
 * over HTTP, because MSW hands every Set-Cookie it serves to the page's
 * `document.cookie`, which would replace the console's own session. It has
 * the surface of the server tests' HTTP client (test-site.ts), so their
 * backup client drives the real protocol through it.
 */
class SiteCaller {
  constructor(
    private readonly baseUrl: string,
    private readonly cookie: () => Promise<string>,
  ) {}

  async request(
    method: string,
    urlPath: string,
    options: { json?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...options.headers };
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    } else if (options.raw !== undefined) {
      body = typeof options.raw === 'string' ? options.raw : new Uint8Array(options.raw);
    }
    if (method !== 'GET' && method !== 'HEAD') headers[CSRF_HEADER] ??= CSRF_HEADER_VALUE;
    headers.cookie = await this.cookie();
    const response = await fetch(new URL(urlPath, this.baseUrl), { method, headers, body });
    const raw = Buffer.from(await response.arrayBuffer());
    const text = raw.toString('utf8');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      text,
      json,
      body: raw,
    };
  }
}

/** The site's clock: the wall clock, or a time the test sets. */
class TestClock implements Clock {
  private fixed: Date | undefined;
  now(): Date {
    return new Date(this.fixed ?? Date.now());
  }
  set(iso: string | undefined): void {
    this.fixed = iso === undefined ? undefined : new Date(iso);
  }
}

export interface TestSiteOptions {
  /** Alert mail (AL-3), as when SMTP is configured. */
  readonly mailer?: AlertMailer;
  /** The site's time at the start (ISO); default: the wall clock. */
  readonly time?: string;
}

export interface TestSite extends BrowserSite {
  /** Sets the site's clock to this time (ISO), or back to the wall clock. */
  setTime(iso: string | undefined): void;
  /**
   * Signs this page in through the site's login route, so the console's
   * requests carry the session cookie the site set (as in a browser).
   */
  signIn(userId: string, password?: string): Promise<SessionInfo>;
  /** A signed-in session of `userId` on the site's own rules, for calling its services directly. */
  principal(userId: string): Promise<Principal>;
  /** `userId` as the escrow services see a signed-in caller. */
  caller(userId: string): Promise<Caller>;
  /** What an administrator's change carries to the audit log. */
  adminAction(userId: string, reason?: string): Promise<AdminAction>;
  /** `admin2` gives `userId` these roles (ID-2), as on the Users page. */
  setRoles(userId: string, roles: readonly Role[]): Promise<void>;
  /**
   * `admin2` resets `userId`'s password (the user must choose a new one at
   * the next sign-in); returns the temporary password.
   */
  resetPassword(userId: string): Promise<string>;
  /** Whether `password` signs `userId` in at the site now. */
  passwordWorks(userId: string, password: string): Promise<boolean>;
  /** Sessions `userId` has open at the site. */
  activeSessions(userId: string): Promise<number>;
  /** The site's audit log, oldest first, without the demo accounts' creation. */
  auditEntries(): Promise<AuditEntry[]>;
  /** Another browser of `userId`, signed in, with its own cookies. */
  browser(userId: string): Promise<Client>;
  /** `userId` backs up an image of `volumeId` from their own browser, through the real protocol. */
  backUp(
    userId: string,
    volumeId: string,
    options?: BackupOptions & { image?: Uint8Array },
  ): Promise<BackupResult>;
  /**
   * `userId` asks for the key of a generation from their own browser
   * (RS-2), with a fresh ephemeral key; the site's answer.
   */
  askForKey(userId: string, volumeId: string, generation?: number): Promise<HttpAnswer>;
  /** Feeds the console's event stream (AL-2) from this site's event bus, for the signed-in page. */
  liveEvents(): void;
}

let current: Promise<TestSite> | undefined;

/**
 * This test's site: the escrow site's own rules on in-memory repositories,
 * with the demo accounts, answering the console through MSW. Started on
 * first use; every test gets a fresh one.
 */
export function testSite(options: TestSiteOptions = {}): Promise<TestSite> {
  if (current) {
    if (options.mailer || options.time)
      throw new Error('the test site is already running; pass its options first');
    return current;
  }
  current = start(options);
  return current;
}

/** Whether this test has started a site. */
export function hasTestSite(): boolean {
  return current !== undefined;
}

/** Ends this test's site (after each test): a later test starts a fresh one. */
export async function endTestSite(): Promise<void> {
  if (!current) return;
  current = undefined;
  setEventSourceFactory(undefined);
  // Forget the page's session cookie, as a fresh browser would have none.
  server.use(
    http.post('*/__test__/forget-session', () =>
      HttpResponse.json(
        {},
        {
          headers: {
            'set-cookie': `${SESSION_COOKIE}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT`,
          },
        },
      ),
    ),
  );
  await fetch(pageUrl('/__test__/forget-session'), { method: 'POST' });
}

async function start(options: TestSiteOptions): Promise<TestSite> {
  const clock = new TestClock();
  clock.set(options.time);
  const browserSite = await createBrowserSite({ mailer: options.mailer, site: { clock } });
  server.use(...browserSite.handlers);
  const { site } = browserSite;
  const operators = new Map<string, Promise<Operator>>();
  const principal = async (userId: string): Promise<Principal> => {
    const { token } = await site.identity.signIn(userId, demoPassword(userId), '127.0.0.1');
    return site.identity.authenticate(token);
  };
  const adminAction = async (userId: string, reason = 'test'): Promise<AdminAction> => ({
    actor: await principal(userId),
    reason,
    clientAddress: '127.0.0.1',
  });
  const browsers = new Map<string, Promise<Client>>();
  const browser = (userId: string): Promise<Client> => {
    let found = browsers.get(userId);
    if (!found) {
      found = openBrowser(userId);
      browsers.set(userId, found);
    }
    return found;
  };
  const openBrowser = (userId: string): Promise<Client> => {
    let token = '';
    // Signs in again when the session has ended (the test may move the site's clock).
    const cookie = async (): Promise<string> => {
      const valid = await site.identity.authenticate(token).then(
        () => true,
        () => false,
      );
      if (!valid) {
        token = (await site.identity.signIn(userId, demoPassword(userId), '127.0.0.1')).token;
      }
      return `${SESSION_COOKIE}=${token}`;
    };
    const caller = new SiteCaller(`http://${encodeURIComponent(userId)}.browser.test`, cookie);
    // The same public surface as the server tests' client; its private fields differ.
    return Promise.resolve(caller as unknown as Client);
  };
  return {
    ...browserSite,
    setTime: (iso) => clock.set(iso),
    async signIn(userId, password = demoPassword(userId)) {
      const response = await fetch(pageUrl('/api/auth/login'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CSRF_HEADER]: CSRF_HEADER_VALUE },
        body: JSON.stringify({ userId, password }),
        credentials: 'same-origin',
      });
      if (!response.ok) throw new Error(`${userId} could not sign in: ${await response.text()}`);
      return (await response.json()) as SessionInfo;
    },
    principal,
    async caller(userId) {
      const { user } = await principal(userId);
      return { userId: user.userId, roles: user.roles, clientAddress: '127.0.0.1' };
    },
    adminAction,
    async setRoles(userId, roles) {
      await site.identity.setRoles(await adminAction('admin2'), userId, roles);
    },
    async resetPassword(userId) {
      return (await site.identity.resetPassword(await adminAction('admin2'), userId))
        .temporaryPassword;
    },
    async passwordWorks(userId, password) {
      // The site's own check, from an address of its own so no lockout is near.
      return site.identity.signIn(userId, password, '192.0.2.1').then(
        () => true,
        () => false,
      );
    },
    async activeSessions(userId) {
      const users = await site.identity.listUsers();
      return users.find((user) => user.userId === userId)?.activeSessions ?? 0;
    },
    async auditEntries() {
      const entries = await site.audit.all({});
      return entries.filter((entry) => !(entry.event === 'user_created' && entry.actor === null));
    },
    browser,
    async backUp(userId, volumeId, { image, ...backup } = {}) {
      let operator = operators.get(userId);
      if (!operator) {
        operator = browser(userId).then((client) => newOperator(client, userId));
        operators.set(userId, operator);
      }
      return backUp(await operator, site.info, volumeId, image ?? randomImage(4096), backup);
    },
    async askForKey(userId, volumeId, generation = 1) {
      return (await requestRelease(await browser(userId), volumeId, generation)).answer;
    },
    liveEvents() {
      setEventSourceFactory((url) => new FetchEventSource(url));
    },
  };
}
