import { http, HttpResponse } from 'msw';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { server } from '@/testing/msw-server';
import {
  buttonNamed,
  controlLabelled,
  mountConsole,
  settle,
  type,
  unmountAll,
} from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';

const text = (): string => document.body.textContent ?? '';
const dialog = (): HTMLElement => {
  const found = document.querySelector<HTMLElement>('[role="dialog"]');
  if (!found) throw new Error('no dialog open');
  return found;
};
const row = (userId: string): string =>
  [...document.querySelectorAll('table[aria-label="Users"] tbody tr')]
    .find((r) => r.querySelector('code')?.textContent === userId)
    ?.textContent?.replace(/\s+/g, ' ') ?? '';

/** A button of the open dialog, by its visible text. */
function dialogButton(name: string): HTMLButtonElement {
  const button = [...dialog().querySelectorAll('button')].find(
    (b) => b.textContent?.trim() === name,
  );
  if (!button) throw new Error(`no button "${name}" in the dialog`);
  return button;
}

/** The reason is a textarea, which `controlLabelled` does not look for. */
async function giveReason(reason: string): Promise<void> {
  const label = [...dialog().querySelectorAll('label')].find((l) => l.textContent === 'Reason');
  const area = document.getElementById(label?.htmlFor ?? '');
  if (!(area instanceof HTMLTextAreaElement)) throw new Error('no reason field');
  await type(area as unknown as HTMLInputElement, reason);
}

async function openUsers(): Promise<void> {
  await mountConsole('/admin/users', { signedInAs: 'admin' });
  await vi.waitFor(() => expect(row('outsider')).toContain('Oscar Outsider'));
}

/** The site's own record of the user. */
const stored = async (userId: string) => (await site.site.users.find(userId)) ?? null;

let site: TestSite;

describe('users page (ID-1)', () => {
  beforeEach(async () => {
    site = await testSite();
  });

  it('lists users with roles, state and sessions in the table "Users"', async () => {
    await site.site.identity.setDisabled(await site.adminAction('admin2'), 'restorer2', true);
    await site.resetPassword('operator2');
    await openUsers();
    expect(row('admin')).toContain('Ada Admin');
    expect(row('admin')).toContain('you');
    expect(row('operator')).toContain('Olive Operator');
    expect(row('restorer2')).toContain('Disabled');
    expect(row('operator2')).toContain('Must change password');
    expect(row('admin')).toMatch(/Active.*1/);
    // Nobody disables or resets their own account from here.
    expect(() => buttonNamed('Disable admin')).toThrow();
    expect(buttonNamed('Disable admin2')).toBeTruthy();
    expect(buttonNamed('Enable restorer2')).toBeTruthy();
  });

  it('opens filtered on the user named in the address', async () => {
    await mountConsole('/admin/users?q=outsider', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(row('outsider')).toContain('Oscar Outsider'));
    expect(row('operator')).toBe('');
    expect((controlLabelled('Find a user') as HTMLInputElement).value).toBe('outsider');
  });

  it('creates a user who must change the password, asking for a reason', async () => {
    await openUsers();
    buttonNamed('Create user').click();
    await settle();
    await type(controlLabelled('User ID') as HTMLInputElement, 'carol');
    await type(controlLabelled('Display name') as HTMLInputElement, 'Carol Clerk');
    await type(controlLabelled('Initial password') as HTMLInputElement, 'first-light-2026');
    (controlLabelled('Backup operator') as HTMLInputElement).click();
    await settle();

    dialogButton('Create').click();
    await settle();
    expect(dialog().textContent).toContain('Give a reason: it is kept in the audit log.');
    expect(await stored('carol')).toBeNull();

    await giveReason('new clerk');
    const bodies: string[] = [];
    server.events.on('request:start', ({ request }) => {
      if (request.method === 'POST')
        void request
          .clone()
          .text()
          .then((b) => bodies.push(b));
    });
    dialogButton('Create').click();
    await vi.waitFor(() => expect(row('carol')).toContain('Must change password'));
    server.events.removeAllListeners();
    expect(text()).toContain('User carol was created.');
    // The site got the initial password's credential for it (MS-2), which signs carol in.
    expect(bodies.join('\n')).toMatch(/"initialCredential":"[\w-]{43}"/);
    expect(bodies.join('\n')).not.toContain('first-light-2026');
    expect(await stored('carol')).toMatchObject({
      roles: ['restorer', 'operator'],
      mustChangePassword: true,
    });
    expect((await site.auditEntries()).at(-1)).toMatchObject({
      event: 'user_created',
      actor: 'admin',
      details: { userId: 'carol', reason: 'new clerk' },
    });
    expect(await site.passwordWorks('carol', 'first-light-2026')).toBe(true);
  });

  it('explains a duplicate ID and a weak password without closing the dialog', async () => {
    await openUsers();
    buttonNamed('Create user').click();
    await settle();
    await type(controlLabelled('User ID') as HTMLInputElement, 'operator');
    await type(controlLabelled('Display name') as HTMLInputElement, 'Someone');
    await type(controlLabelled('Initial password') as HTMLInputElement, 'first-light-2026');
    await giveReason('test');
    dialogButton('Create').click();
    await vi.waitFor(() =>
      expect(dialog().textContent).toContain('A user with this ID already exists.'),
    );
    await type(controlLabelled('User ID') as HTMLInputElement, 'dave');
    // The console holds the password to the rule: the site gets only its credential.
    for (const weak of ['short', 'dave-is-my-name', 'abababababab']) {
      await type(controlLabelled('Initial password') as HTMLInputElement, weak);
      dialogButton('Create').click();
      await vi.waitFor(() =>
        expect(dialog().textContent).toContain('The initial password is too weak.'),
      );
    }
    expect(await stored('dave')).toBeNull();
  });

  it('disables and enables a user', async () => {
    await openUsers();
    buttonNamed('Disable outsider').click();
    await settle();
    expect(dialog().textContent).toContain('outsider is signed out at once');
    await giveReason('left the project');
    dialogButton('Disable').click();
    await vi.waitFor(() => expect(row('outsider')).toContain('Disabled'));
    expect(text()).toContain('outsider is disabled.');
    expect((await stored('outsider'))?.disabled).toBe(true);

    buttonNamed('Enable outsider').click();
    await settle();
    await giveReason('back again');
    dialogButton('Enable').click();
    await vi.waitFor(() => expect(row('outsider')).toContain('Active'));
    expect(
      (await site.auditEntries())
        .filter((e) => e.event.startsWith('user_'))
        .map((e) => [e.event, e.actor]),
    ).toEqual([
      ['user_disabled', 'admin'],
      ['user_enabled', 'admin'],
    ]);
  });

  it('resets a password and shows the temporary password once', async () => {
    await openUsers();
    buttonNamed('Reset password of operator').click();
    await settle();
    await giveReason('forgotten');
    dialogButton('Reset password').click();
    await vi.waitFor(() =>
      expect(dialog().textContent).toContain('Temporary password of operator'),
    );
    const temporary = dialog().querySelector('output')?.textContent ?? '';
    expect(temporary.length).toBeGreaterThanOrEqual(10);
    dialogButton('Done').click();
    await settle();
    expect(text()).not.toContain(temporary);
    expect(row('operator')).toContain('Must change password');
    expect(await site.passwordWorks('operator', temporary)).toBe(true);
    expect(await site.passwordWorks('operator', 'custodian-operator')).toBe(false);
  });

  it('edits roles and refuses to demote the last administrator, saying why', async () => {
    await site.site.identity.setDisabled(await site.adminAction('admin'), 'admin2', true);
    await openUsers();
    buttonNamed('Edit roles of admin').click();
    await settle();
    (controlLabelled('Administrator') as HTMLInputElement).click();
    await settle();
    (controlLabelled('Backup operator') as HTMLInputElement).click();
    await settle();
    await giveReason('step down');
    dialogButton('Save roles').click();
    await vi.waitFor(() =>
      expect(dialog().textContent).toContain('The last administrator cannot be removed.'),
    );
    expect((await stored('admin'))?.roles).toEqual(['admin']);

    dialogButton('Cancel').click();
    await settle();
    buttonNamed('Edit roles of restorer').click();
    await settle();
    (controlLabelled('Restorer') as HTMLInputElement).click();
    await settle();
    await giveReason('nothing');
    dialogButton('Save roles').click();
    await settle();
    expect(dialog().textContent).toContain('Choose at least one role.');
    (controlLabelled('Backup operator') as HTMLInputElement).click();
    await settle();
    dialogButton('Save roles').click();
    await vi.waitFor(() => expect(row('restorer')).toContain('Backup operator'));
    expect(text()).toContain('The roles of restorer were saved.');
  });

  it('gives the admin role only once a second administrator confirms it', async () => {
    await openUsers();
    buttonNamed('Edit roles of operator').click();
    await settle();
    (controlLabelled('Administrator') as HTMLInputElement).click();
    await settle();
    await giveReason('covers the night shift');
    dialogButton('Save roles').click();
    await vi.waitFor(() =>
      expect(text()).toContain(
        "The roles of operator were saved. The administrator role waits for a second administrator's confirmation.",
      ),
    );
    expect((await stored('operator'))?.roles).not.toContain('admin');
    // The one who asked may not confirm it.
    buttonNamed('Confirm the administrator role of operator').click();
    await settle();
    await giveReason('me again');
    dialogButton('Confirm').click();
    await vi.waitFor(() =>
      expect(dialog().textContent).toContain(
        'Nobody approves their own request: another administrator must decide.',
      ),
    );
    dialogButton('Cancel').click();
    await settle();
    expect((await stored('operator'))?.roles).not.toContain('admin');

    unmountAll();
    await mountConsole('/admin/users', { signedInAs: 'admin2' });
    await vi.waitFor(() =>
      expect(
        document.querySelector('table[aria-label="Administrator roles waiting"]')?.textContent,
      ).toContain('covers the night shift'),
    );
    buttonNamed('Confirm the administrator role of operator').click();
    await settle();
    await giveReason('agreed with the team');
    dialogButton('Confirm').click();
    await vi.waitFor(() => expect(text()).toContain('operator is now an administrator.'));
    expect((await stored('operator'))?.roles).toContain('admin');
    expect(document.querySelector('table[aria-label="Administrator roles waiting"]')).toBeNull();
  });

  it('ends a user’s sessions and says how many', async () => {
    // restorer is signed in on two devices.
    await site.principal('restorer');
    await site.principal('restorer');
    await openUsers();
    buttonNamed('End sessions of restorer').click();
    await settle();
    await giveReason('lost laptop');
    dialogButton('End sessions').click();
    await vi.waitFor(() => expect(text()).toContain('2 sessions of restorer ended.'));
    expect(await site.activeSessions('restorer')).toBe(0);
  });

  it('says what failed and loads again on "Try again"', async () => {
    let calls = 0;
    server.use(
      http.get('*/api/admin/users', () => {
        calls++;
        return calls <= 3
          ? HttpResponse.json({ code: 'server_error', message: 'boom' }, { status: 500 })
          : undefined;
      }),
    );
    await mountConsole('/admin/users', { signedInAs: 'admin' });
    await vi.waitFor(() => expect(text()).toContain('The user list could not be loaded.'), {
      timeout: 5_000,
    });
    buttonNamed('Try again').click();
    await vi.waitFor(() => expect(row('outsider')).toContain('Oscar Outsider'));
  });

  it('speaks Japanese', async () => {
    await mountConsole('/admin/users', { signedInAs: 'admin', locale: 'ja' });
    await vi.waitFor(() =>
      expect(document.querySelector('table[aria-label="ユーザー"]')?.textContent).toContain(
        'リストア担当者',
      ),
    );
    expect(buttonNamed('ユーザーを作成')).toBeTruthy();
    expect(buttonNamed('outsider を無効にする')).toBeTruthy();
  });
});
