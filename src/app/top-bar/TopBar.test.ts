import { beforeEach, describe, expect, it, vi } from 'vitest';
import { LOCALE_STORAGE_KEY } from '@/app/i18n';
import {
  buttonNamed,
  controlLabelled,
  linksIn,
  mountConsole,
  settle,
} from '@/testing/mount-console';
import { testSite } from '@/testing/site';

describe('top bar', () => {
  beforeEach(async () => {
    await testSite();
  });

  it.each([
    ['operator', ['Backup', 'Restore']],
    ['restorer', ['Restore']],
    ['outsider', ['Restore']],
    ['admin', ['Admin']],
  ])('shows %s exactly the links of their roles', async (userId, links) => {
    await mountConsole('/account/password', { signedInAs: userId });
    expect(linksIn('Main')).toEqual(links);
  });

  it('shows every link to a user holding every role', async () => {
    const site = await testSite();
    await site.site.identity.setRoles(await site.adminAction('admin'), 'admin2', [
      'admin',
      'operator',
      'restorer',
    ]);
    await mountConsole('/account/password', { signedInAs: 'admin2' });
    expect(linksIn('Main')).toEqual(['Backup', 'Restore', 'Admin']);
  });

  it('shows the user, a password link and "Sign out"', async () => {
    await mountConsole('/restore', { signedInAs: 'restorer2' });
    const header = document.querySelector('header')!;
    expect(header.textContent).toContain('Signed in as restorer2');
    expect(header.querySelector('a[href="/account/password"]')?.textContent?.trim()).toBe(
      'Change password',
    );
    expect(buttonNamed('Sign out')).toBeTruthy();
  });

  it('folds the account part behind "Menu", which says whether it is open and folds again on a new page', async () => {
    const { router } = await mountConsole('/backup', { signedInAs: 'operator' });
    const menu = buttonNamed('Menu');
    const folded = document.getElementById(menu.getAttribute('aria-controls')!)!;
    expect(folded.textContent).toContain('Sign out');
    expect(menu.getAttribute('aria-expanded')).toBe('false');
    expect(folded.classList.contains('open')).toBe(false);
    menu.click();
    await settle();
    expect(menu.getAttribute('aria-expanded')).toBe('true');
    expect(folded.classList.contains('open')).toBe(true);
    await router.push('/restore');
    await settle();
    expect(menu.getAttribute('aria-expanded')).toBe('false');
    menu.click();
    await settle();
    folded.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await settle();
    expect(menu.getAttribute('aria-expanded')).toBe('false');
  });

  it('shows only the product name and the language switch on the sign-in page', async () => {
    await mountConsole('/login');
    const header = document.querySelector('header')!;
    expect(header.textContent).toContain('Custodian');
    expect(header.querySelectorAll('a')).toHaveLength(0);
    expect(header.querySelectorAll('button')).toHaveLength(0);
    expect(controlLabelled('Language')).toBeTruthy();
  });

  it('signs out at the site and goes to the sign-in page', async () => {
    const site = await testSite();
    const { router } = await mountConsole('/backup', { signedInAs: 'operator' });
    expect(await site.activeSessions('operator')).toBe(1);
    buttonNamed('Sign out').click();
    await vi.waitFor(() => expect(router.currentRoute.value.path).toBe('/login'));
    expect(await site.activeSessions('operator')).toBe(0);
    expect(linksIn('Main')).toEqual([]);
  });

  it('switches to Japanese, remembers it and sets <html lang>', async () => {
    await mountConsole('/login');
    const select = controlLabelled('Language') as HTMLSelectElement;
    expect([...select.options].map((o) => o.text.trim())).toEqual(['English', '日本語']);
    expect(document.body.textContent).toContain('Sign in to Custodian');

    select.value = 'ja';
    select.dispatchEvent(new Event('change'));
    await settle();

    expect(document.body.textContent).toContain('Custodian にサインイン');
    expect(controlLabelled('言語')).toBe(select);
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBe('ja');
    expect(document.documentElement.lang).toBe('ja');
  });

  it('starts in the remembered language', async () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, 'ja');
    const { createConsoleI18n } = await import('@/app/i18n');
    expect(createConsoleI18n().global.locale.value).toBe('ja');
  });
});
