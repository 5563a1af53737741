import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { server } from '@/testing/msw-server';
import {
  alertText,
  buttonNamed,
  controlLabelled,
  mountConsole,
  settle,
  type,
} from '@/testing/mount-console';
import { testSite } from '@/testing/site';
import { credentialFor } from '../../../../mock-server/test/support/credentials';

async function submit(userId: string, password: string, labels = ['User ID', 'Password']) {
  await type(controlLabelled(labels[0]!) as HTMLInputElement, userId);
  await type(controlLabelled(labels[1]!) as HTMLInputElement, password);
  buttonNamed(labels[2] ?? 'Sign in').click();
  await settle();
}

/** A sign-in derives the site credential first (MS-2): half a second, more on busy cores. */
const SIGNING_IN = { timeout: 10_000 };

// Signing in loads the home page's code first: on two shared cores that can take seconds.
describe('sign-in page', () => {
  beforeEach(async () => {
    await testSite();
  });

  it('labels its fields for assistive technology and password managers', async () => {
    await mountConsole('/login');
    const userId = controlLabelled('User ID') as HTMLInputElement;
    const password = controlLabelled('Password') as HTMLInputElement;
    expect(userId.type).toBe('text');
    expect(userId.autocomplete).toBe('username');
    expect(password.type).toBe('password');
    expect(password.autocomplete).toBe('current-password');
    expect(buttonNamed('Sign in').type).toBe('submit');
  });

  it('says "unauthorized user" in an alert when the site refuses (ID-3)', async () => {
    const { router } = await mountConsole('/login');
    await submit('operator', 'not-the-password');
    await vi.waitFor(
      () => expect(document.querySelector('[role="alert"]')).not.toBeNull(),
      SIGNING_IN,
    );
    expect(alertText()).toContain('unauthorized user');
    expect(router.currentRoute.value.path).toBe('/login');
  });

  it('says it in Japanese when Japanese is chosen', async () => {
    await mountConsole('/login', { locale: 'ja' });
    await submit('operator', 'not-the-password', ['ユーザーID', 'パスワード', 'サインイン']);
    await vi.waitFor(
      () => expect(alertText()).toContain('認証されていないユーザーです。'),
      SIGNING_IN,
    );
    expect(alertText()).not.toContain('unauthorized user');
  });

  it('explains a lock-out and when to try again', async () => {
    const { site } = await testSite();
    // Five failures from this browser's address lock the user out for 15 minutes (ID-3).
    for (let i = 0; i < 5; i++) {
      await site.identity.signIn('admin', `wrong-${i}`, '127.0.0.1').catch(() => undefined);
    }
    await mountConsole('/login');
    await submit('admin', 'custodian-admin');
    await vi.waitFor(
      () =>
        expect(alertText()).toContain('Too many failed sign-ins for this user from this address.'),
      SIGNING_IN,
    );
    expect(alertText()).toContain('try again in about 15 minutes');
  });

  it('locks the user out after repeated failures from this browser', async () => {
    await mountConsole('/login');
    for (let i = 0; i < 5; i++) {
      await submit('admin', `wrong-${i}`);
      await vi.waitFor(() => expect(alertText()).toContain('unauthorized user'), SIGNING_IN);
    }
    await submit('admin', 'custodian-admin');
    await vi.waitFor(() => expect(alertText()).toContain('Too many failed sign-ins'), SIGNING_IN);
  });

  it('falls back to the site message for a code the console does not know', async () => {
    server.use(
      http.post('*/api/auth/login', () =>
        HttpResponse.json(
          { code: 'site_in_maintenance', message: 'Back at 14:00.' },
          { status: 503 },
        ),
      ),
    );
    await mountConsole('/login');
    await submit('operator', 'custodian-operator');
    await vi.waitFor(() => expect(alertText()).toContain('Back at 14:00.'), SIGNING_IN);
  });

  it('asks for both fields before calling the site', async () => {
    await mountConsole('/login');
    buttonNamed('Sign in').click();
    await settle();
    expect(alertText()).toContain('Enter both your user ID and your password');
  });

  it('goes to the user home after signing in', async () => {
    const { router } = await mountConsole('/login');
    await submit('operator', 'custodian-operator');
    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe('/backup'), {
      timeout: 10_000,
    });
    await vi.waitFor(() => expect(document.body.textContent).toContain('Back up a media image'));
  });

  it('sends the credential derived for this site, never the password, and says "Signing in…" meanwhile (MS-2)', async () => {
    const { site } = await testSite();
    const bodies: string[] = [];
    server.events.on('request:start', ({ request }) => {
      if (request.method === 'POST')
        void request
          .clone()
          .text()
          .then((b) => bodies.push(b));
    });
    const { router } = await mountConsole('/login');
    await type(controlLabelled('User ID') as HTMLInputElement, 'operator');
    await type(controlLabelled('Password') as HTMLInputElement, 'custodian-operator');
    buttonNamed('Sign in').click();
    await vi.waitFor(() => expect(buttonNamed('Signing in…').disabled).toBe(true));
    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe('/backup'), {
      timeout: 10_000,
    });
    server.events.removeAllListeners();
    const expected = await credentialFor('custodian-operator', site.info.siteId);
    expect(bodies.map((b) => JSON.parse(b) as unknown)).toEqual([
      { userId: 'operator', credential: expected },
    ]);
  });

  it('goes back to the page asked for before signing in', async () => {
    const { router } = await mountConsole('/admin/site');
    expect(router.currentRoute.value.fullPath).toBe('/login?redirect=/admin/site');
    await submit('admin', 'custodian-admin');
    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe('/admin/site'), {
      timeout: 10_000,
    });
  });

  it('never follows a redirect to another origin', async () => {
    const { router } = await mountConsole('/login?redirect=//evil.example/');
    await submit('restorer', 'custodian-restorer');
    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe('/restore'), {
      timeout: 10_000,
    });
  });
});
