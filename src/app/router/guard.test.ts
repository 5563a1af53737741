import { beforeEach, describe, expect, it, vi } from 'vitest';
import { mountConsole } from '@/testing/mount-console';
import { testSite } from '@/testing/site';

const text = (): string => document.body.textContent ?? '';

describe('page access', () => {
  beforeEach(async () => {
    await testSite();
  });

  it('sends a signed-out visitor to sign in, remembering the page (BK-1)', async () => {
    const { router } = await mountConsole('/backup');
    expect(router.currentRoute.value.path).toBe('/login');
    expect(router.currentRoute.value.query['redirect']).toBe('/backup');
    expect(text()).not.toContain('Back up a media image');
  });

  it.each([['/'], ['/admin/alerts'], ['/account/password']])(
    'does not open %s without a session',
    async (path) => {
      const { router } = await mountConsole(path);
      expect(router.currentRoute.value.path).toBe('/login');
    },
  );

  it('shows "Not allowed" in place when a restorer opens /admin', async () => {
    const { router } = await mountConsole('/admin', { signedInAs: 'outsider' });
    await vi.waitFor(() => expect(text()).toContain('Not allowed'));
    expect(text()).toContain(
      'Your account (outsider) does not have the role needed to open this page.',
    );
    expect(router.currentRoute.value.fullPath).toBe('/admin');
    expect(text()).not.toContain('Nothing to show yet');
    expect(document.querySelector('main a[href="/restore"]')?.textContent).toContain(
      'Go to your home page',
    );
  });

  it.each([
    ['operator', '/admin/site'],
    ['restorer', '/backup'],
    ['admin', '/backup'],
    ['admin', '/restore'],
  ])('refuses %s on %s', async (userId, path) => {
    await mountConsole(path, { signedInAs: userId });
    await vi.waitFor(() => expect(text()).toContain('Not allowed'));
  });

  it.each([
    ['operator', '/backup', 'Back up a media image'],
    ['operator', '/restore', 'No restorable volumes yet'],
    ['restorer', '/restore', 'No restorable volumes yet'],
    ['admin', '/admin', 'Nothing to show yet'],
    ['admin', '/admin/restorers', 'No escrow records yet'],
    ['admin', '/admin/alerts', 'No alerts'],
    ['admin', '/admin/users', 'Alan Admin'],
    ['admin', '/admin/audit', 'Verify chain'],
    ['admin', '/admin/remote-copy', 'No remote copy pairs yet.'],
    ['restorer', '/account/password', 'Save new password'],
  ])('lets %s open %s', async (userId, path, expected) => {
    await mountConsole(path, { signedInAs: userId });
    await vi.waitFor(() => expect(text()).toContain(expected));
    expect(text()).not.toContain('Not allowed');
  });

  it.each([
    ['operator', '/backup'],
    ['restorer', '/restore'],
    ['admin', '/admin'],
  ])('sends %s from / to %s', async (userId, home) => {
    const { router } = await mountConsole('/', { signedInAs: userId });
    expect(router.currentRoute.value.path).toBe(home);
  });

  it('keeps a user who must change their password on that page', async () => {
    const site = await testSite();
    await site.signIn('operator', await site.resetPassword('operator'));
    const { router } = await mountConsole('/backup');
    expect(router.currentRoute.value.path).toBe('/account/password');
    await router.push('/restore');
    expect(router.currentRoute.value.path).toBe('/account/password');
    await vi.waitFor(() => expect(text()).toContain('asks you to choose a new password'));
  });

  it('shows a not-found page for an unknown address', async () => {
    await mountConsole('/no/such/page', { signedInAs: 'operator' });
    await vi.waitFor(() => expect(text()).toContain('Page not found'));
    expect(text()).toContain('There is no page at /no/such/page.');
  });

  it('sends a signed-in user away from the sign-in page', async () => {
    const { router } = await mountConsole('/login', { signedInAs: 'restorer' });
    expect(router.currentRoute.value.path).toBe('/restore');
  });
});
