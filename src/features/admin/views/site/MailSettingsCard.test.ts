import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buttonNamed, mountConsole } from '@/testing/mount-console';
import { testSite } from '@/testing/site';
import { AlertMailer } from '../../../../../mock-server/src/platform/alert-mailer';

const text = (): string => document.body.textContent ?? '';

/** A mail server on loopback that takes every mail and remembers its recipients. */
async function startMailServer(): Promise<{ port: number; recipients: string[][] }> {
  const recipients: string[][] = [];
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth: (auth, _session, done) => done(null, { user: auth.username }),
    onData(stream, session, done) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        recipients.push(session.envelope.rcptTo.map((to) => to.address));
        done();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => smtp.close(() => resolve())));
  return { port: (smtp.server.address() as AddressInfo).port, recipients };
}

/** A loopback port nothing listens on: the mail server is down. */
async function closedPort(): Promise<number> {
  const { port } = await startMailServer();
  await closers.pop()!();
  return port;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** The site with alert mail configured as CUSTODIAN_SMTP_URL and CUSTODIAN_ALERT_MAIL_TO say. */
function siteMailingVia(port: number) {
  return testSite({
    mailer: new AlertMailer(
      {
        smtpUrl: `smtp://custodian:a-secret@127.0.0.1:${port}`,
        from: 'custodian@example.test',
        to: ['security@example.test', 'ops@example.test'],
        burstWindowMs: 60_000,
      },
      () => undefined,
      'Custodian escrow site',
    ),
  });
}

describe('alert mail on the site page (AL-3)', () => {
  it('shows the SMTP settings in effect, never a password, and sends a test mail', async () => {
    const mail = await startMailServer();
    await siteMailingVia(mail.port);
    await mountConsole('/admin/site', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain(`127.0.0.1:${mail.port}`));
    expect(text()).toContain('SMTP, upgraded with STARTTLS when the server offers it');
    expect(text()).toContain('custodian, a password is set (not shown)');
    expect(text()).not.toContain('a-secret');
    expect(text()).toContain('security@example.test, ops@example.test');
    expect(text()).toContain('60 seconds');

    buttonNamed('Send test mail').click();
    await vi.waitFor(
      () => expect(text()).toContain('Test mail sent to security@example.test, ops@example.test.'),
      { timeout: 10_000 },
    );
    expect(mail.recipients).toEqual([['security@example.test', 'ops@example.test']]);
  });

  it('says when mail is not configured, and why a test mail cannot go', async () => {
    await testSite();
    await mountConsole('/admin/site', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('Alert mail is not configured.'));
    buttonNamed('Send test mail').click();
    await vi.waitFor(() => expect(text()).toContain('The test mail was not sent.'));
    expect(text()).toContain('Set CUSTODIAN_SMTP_URL and CUSTODIAN_ALERT_MAIL_TO');
  });

  it('passes on what the mail server said when the test mail fails', async () => {
    await siteMailingVia(await closedPort());
    await mountConsole('/admin/site', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('127.0.0.1:'));
    buttonNamed('Send test mail').click();
    await vi.waitFor(
      () => expect(text()).toContain('The mail server did not take the test mail.'),
      { timeout: 10_000 },
    );
    expect(text()).toContain('ECONNREFUSED');
  });

  it('speaks Japanese', async () => {
    await siteMailingVia(await closedPort());
    await mountConsole('/admin/site', { signedInAs: 'admin', locale: 'ja' });
    await vi.waitFor(() => expect(text()).toContain('アラートメール'));
    await vi.waitFor(() => expect(text()).toContain('パスワード設定済み（表示しません）'));
    expect(buttonNamed('テストメールを送信')).toBeTruthy();
  });
});
