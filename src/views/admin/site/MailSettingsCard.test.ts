import { describe, expect, it, vi } from 'vitest';
import { demoSite } from '@/mocks/demo-site';
import { buttonNamed, mountConsole } from '@/test/mount-console';

const text = (): string => document.body.textContent ?? '';

const configured = {
  configured: true,
  host: 'mail.example.test',
  port: 587,
  secure: false,
  username: 'custodian',
  passwordSet: true,
  from: 'custodian@example.test',
  to: ['security@example.test', 'ops@example.test'],
  burstWindowSeconds: 60,
} as const;

describe('alert mail on the site page (AL-3)', () => {
  it('shows the SMTP settings in effect, never a password, and sends a test mail', async () => {
    demoSite.mail = { ...configured, to: [...configured.to] };
    await mountConsole('/admin/site', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('mail.example.test:587'));
    expect(text()).toContain('SMTP, upgraded with STARTTLS when the server offers it');
    expect(text()).toContain('custodian, a password is set (not shown)');
    expect(text()).toContain('security@example.test, ops@example.test');
    expect(text()).toContain('60 seconds');

    buttonNamed('Send test mail').click();
    await vi.waitFor(() =>
      expect(text()).toContain('Test mail sent to security@example.test, ops@example.test.'),
    );
    expect(demoSite.mailsSent).toEqual([['security@example.test', 'ops@example.test']]);
  });

  it('says when mail is not configured, and why a test mail cannot go', async () => {
    await mountConsole('/admin/site', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('Alert mail is not configured.'));
    buttonNamed('Send test mail').click();
    await vi.waitFor(() => expect(text()).toContain('The test mail was not sent.'));
    expect(text()).toContain('Set CUSTODIAN_SMTP_URL and CUSTODIAN_ALERT_MAIL_TO');
  });

  it('passes on what the mail server said when the test mail fails', async () => {
    demoSite.mail = { ...configured, to: [...configured.to] };
    demoSite.mailFails = true;
    await mountConsole('/admin/site', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('mail.example.test:587'));
    buttonNamed('Send test mail').click();
    await vi.waitFor(() => expect(text()).toContain('The mail server did not take the test mail.'));
    expect(text()).toContain('ECONNREFUSED');
  });

  it('speaks Japanese', async () => {
    demoSite.mail = { ...configured, to: [...configured.to] };
    await mountConsole('/admin/site', { signedInAs: 'admin', locale: 'ja' });
    await vi.waitFor(() => expect(text()).toContain('アラートメール'));
    expect(text()).toContain('パスワード設定済み（表示しません）');
    expect(buttonNamed('テストメールを送信')).toBeTruthy();
  });
});
