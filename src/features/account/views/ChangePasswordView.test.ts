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

async function fill(current: string, next: string, confirm: string): Promise<void> {
  await type(controlLabelled('Current password') as HTMLInputElement, current);
  await type(controlLabelled('New password') as HTMLInputElement, next);
  await type(controlLabelled('Confirm password') as HTMLInputElement, confirm);
  buttonNamed('Save new password').click();
  await settle();
}

const text = (): string => document.body.textContent ?? '';

describe('change password page', () => {
  beforeEach(async () => {
    await testSite();
  });

  it('refuses a new password shorter than 10 characters without calling the site', async () => {
    const calls = vi.fn();
    server.events.on('request:start', calls);
    await mountConsole('/account/password', { signedInAs: 'operator' });
    calls.mockClear();
    await fill('custodian-operator', 'short', 'short');
    expect(text()).toContain('The new password is too short: use at least 10 characters.');
    expect(controlLabelled('New password').getAttribute('aria-describedby')).toBe(
      'new-password-error',
    );
    expect(calls).not.toHaveBeenCalled();
    server.events.removeAllListeners();
  });

  it('refuses two different new passwords', async () => {
    await mountConsole('/account/password', { signedInAs: 'operator' });
    await fill('custodian-operator', 'a-long-new-secret', 'a-long-new-secreT');
    expect(text()).toContain('The two new passwords differ.');
    const site = await testSite();
    expect(await site.passwordWorks('operator', 'custodian-operator')).toBe(true);
  });

  it('explains a wrong current password from the site', async () => {
    await mountConsole('/account/password', { signedInAs: 'operator' });
    await fill('not-my-password', 'a-long-new-secret', 'a-long-new-secret');
    await vi.waitFor(() =>
      expect(alertText()).toContain('The current password is not correct. Type it again.'),
    );
  });

  it('holds the new password to the rule itself, since the site gets only credentials, in Japanese too', async () => {
    const calls = vi.fn();
    await mountConsole('/account/password', { signedInAs: 'restorer', locale: 'ja' });
    server.events.on('request:start', calls);
    const attempt = async (next: string): Promise<string> => {
      await type(controlLabelled('現在のパスワード') as HTMLInputElement, 'custodian-restorer');
      await type(controlLabelled('新しいパスワード') as HTMLInputElement, next);
      await type(controlLabelled('パスワードの確認') as HTMLInputElement, next);
      buttonNamed('新しいパスワードを保存').click();
      await settle();
      return text();
    };
    expect(await attempt('restorer-1234567')).toContain(
      '新しいパスワードにユーザーIDが含まれています。',
    );
    expect(await attempt('abababababab')).toContain('4 種類以上の文字');
    expect(calls).not.toHaveBeenCalled();
    server.events.removeAllListeners();
    expect(await (await testSite()).passwordWorks('restorer', 'custodian-restorer')).toBe(true);
  });

  it('sends the site the credentials of both passwords, never the passwords', async () => {
    const bodies: string[] = [];
    await mountConsole('/account/password', { signedInAs: 'operator' });
    server.events.on('request:start', ({ request }) => {
      if (request.method === 'POST')
        void request
          .clone()
          .text()
          .then((b) => bodies.push(b));
    });
    await fill('custodian-operator', 'a-long-new-secret', 'a-long-new-secret');
    // Two credentials are derived first, about half a second each (MS-2).
    await vi.waitFor(() => expect(text()).toContain('Your password has been changed.'), {
      timeout: 10_000,
    });
    server.events.removeAllListeners();
    const sent = bodies.join('\n');
    expect(sent).toMatch(/"currentCredential":"[\w-]{43}","newCredential":"[\w-]{43}"/);
    expect(sent).not.toContain('custodian-operator');
    expect(sent).not.toContain('a-long-new-secret');
    expect(await (await testSite()).passwordWorks('operator', 'a-long-new-secret')).toBe(true);
  });

  it('changes the password and lets a user who had to change it continue', async () => {
    const site = await testSite();
    const temporary = await site.resetPassword('restorer');
    await site.signIn('restorer', temporary);
    const { router } = await mountConsole('/restore');
    expect(router.currentRoute.value.path).toBe('/account/password');
    await fill(temporary, 'a-long-new-secret', 'a-long-new-secret');
    // Two credentials are derived first, about half a second each (MS-2).
    await vi.waitFor(() => expect(text()).toContain('Your password has been changed.'), {
      timeout: 10_000,
    });
    expect(await site.passwordWorks('restorer', 'a-long-new-secret')).toBe(true);
    await router.push('/restore');
    await vi.waitFor(() => expect(text()).toContain('No restorable volumes yet'));
  });
});
