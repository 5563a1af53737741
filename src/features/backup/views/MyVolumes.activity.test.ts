import 'fake-indexeddb/auto';
import { mount } from '@vue/test-utils';
import { http, HttpResponse } from 'msw';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import PrimeVue from 'primevue/config';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiRoutes } from '@/core/contract';
import { toBase64Url, randomBytes } from '@/core/crypto/bytes';
import { exportEnvelopePublicKeyJwk, generateEnvelopeKeyPair } from '@/core/crypto/envelope-key';
import { primeVueOptions } from '@/app/primevue-options';
import { createConsoleI18n, type Locale } from '@/app/i18n';
import { en } from '@/app/i18n/en';
import { server } from '@/testing/msw-server';
import { createBrowserSite, type BrowserSite } from '@/app/offline-site/browser-site';
import { siteRepositories } from '@/testing/site-repositories';
import { backupDatabase, closeBackupDatabase } from '@/shared/storage/database';
import { useBackupVolumesStore } from '@/features/backup/stores/backup-volumes';
import { useSameRealmTextEncoder } from '@/testing/backup-test-support';
import { useSessionStore } from '@/features/account';
import { buttonNamed, settle } from '@/testing/mount-console';
import type { Caller } from '../../../../mock-server/src/domain/escrow/context';
import {
  backUp,
  image,
  registerDevice,
  restore,
} from '../../../../mock-server/test/repositories/service-client';
import MyVolumes from './MyVolumes.vue';

/**
 * My volumes shows the restores and refusals of each volume (AL-3), loaded
 * from the site's own rules on its repositories over SQLite in memory (src/app/offline-site).
 */
const VOLUME = 'ext4:7c6b5a49-3827-4165-a4b3-c2d1e0f9a8b7';

useSameRealmTextEncoder();

let browserSite: BrowserSite;
let pinia: Pinia;

const caller = (userId: string, roles: Caller['roles']): Caller => ({
  userId,
  roles,
  clientAddress: '127.0.0.1',
});
const operator = caller('operator', ['operator']);

beforeEach(async () => {
  browserSite = await createBrowserSite({ repositories: await siteRepositories() });
  server.use(...browserSite.handlers);
  pinia = createPinia();
  setActivePinia(pinia);
});

afterEach(async () => {
  await backupDatabase().delete();
  closeBackupDatabase();
});

/** The operator's volume at the site: backed up, restored by `restorer`, refused to `outsider`. */
async function seedRestoreAndRefusal(): Promise<void> {
  const { site } = browserSite;
  const device = await registerDevice(site, operator);
  await backUp(site, operator, device, VOLUME, image(5000, 7), { restorers: ['restorer'] });
  await restore(site, caller('restorer', ['restorer']), VOLUME);
  const ephemeral = await exportEnvelopePublicKeyJwk((await generateEnvelopeKeyPair()).publicKey);
  const refused = site.releases.request(caller('outsider', ['restorer']), VOLUME, {
    requestId: toBase64Url(randomBytes(18)),
    generation: 1,
    ephemeralPublicKey: { kty: 'EC', crv: 'P-256', x: ephemeral.x ?? '', y: ephemeral.y ?? '' },
  });
  await expect(refused).rejects.toMatchObject({ code: 'unauthorized_use' });
}

/** My volumes of `operator`, signed in at the in-page site as the login form does. */
async function openMyVolumes(locale: Locale = 'en'): Promise<void> {
  await useSessionStore().signIn('operator', 'custodian-operator');
  await useBackupVolumesStore().load();
  mount(MyVolumes, {
    attachTo: document.body,
    global: { plugins: [pinia, createConsoleI18n(locale), [PrimeVue, primeVueOptions()]] },
  });
  await settle();
}

/** Lets the console run until `check` holds (the bound only stops a hung test). */
async function until(check: () => boolean): Promise<void> {
  const end = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > end)
      throw new Error(`gave up waiting; the page says: ${document.body.textContent}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await settle();
  }
}

/** Waits for the site's answer to the latest load of the volume's restores and refusals. */
async function loaded(): Promise<void> {
  const store = useBackupVolumesStore();
  await until(() => {
    const view = store.activityOf(VOLUME);
    return !view.loading && (view.loaded || view.error !== null);
  });
}

function activityTable(volumeId = VOLUME): HTMLTableElement {
  const table = [...document.querySelectorAll('table')].find(
    (t) =>
      t.querySelector('caption')?.textContent?.trim() === `Restores and refusals of ${volumeId}`,
  );
  if (!table) throw new Error('no table of restores and refusals');
  return table;
}

function rowTexts(table: HTMLTableElement): string[] {
  return [...table.querySelectorAll(':scope > tbody > tr')].map(
    (r) => r.textContent?.replace(/\s+/g, ' ') ?? '',
  );
}

describe('My volumes: restores and refusals (AL-3)', () => {
  it('shows a registered restorer’s restore and an outsider’s refusal with its reason, by name', async () => {
    await seedRestoreAndRefusal();
    await openMyVolumes();
    const toggle = buttonNamed('Restores and refusals');
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    toggle.click();
    await loaded();
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    const panel = document.getElementById(toggle.getAttribute('aria-controls')!);
    expect(panel).not.toBeNull();
    const rows = rowTexts(activityTable());
    expect(rows, rows.join('\n')).toHaveLength(2);
    expect(rows[0]).toContain('Oscar Outsider (outsider)');
    expect(rows[0]).toContain('Refused');
    expect(rows[0]).toContain('unauthorized use: not registered as a restorer of this volume');
    expect(rows[1]).toContain('Rita Restorer (restorer)');
    expect(rows[1]).toContain('Restore: keys of generation 1 released');

    // Closing hides the list again.
    toggle.click();
    await settle();
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(() => activityTable()).toThrow();
  });

  it('says so when nobody has restored the volume or been refused it', async () => {
    const device = await registerDevice(browserSite.site, operator);
    await backUp(browserSite.site, operator, device, VOLUME, image(3000, 3));
    await openMyVolumes();
    buttonNamed('Restores and refusals').click();
    await loaded();
    expect(document.body.textContent).toContain(
      'Nobody has restored this volume or been refused it yet.',
    );
    expect(() => activityTable()).toThrow();
  });

  it('says the site could not be reached, and loads on "Load again" once it is back', async () => {
    await seedRestoreAndRefusal();
    await openMyVolumes();
    server.use(http.get(`*${apiRoutes.volumeActivity.path}`, () => HttpResponse.error()));
    buttonNamed('Restores and refusals').click();
    // The request layer retries with back-off before it gives up.
    await until(() => document.body.textContent?.includes('could not be loaded') ?? false);
    expect(document.body.textContent).toContain(
      'The restores and refusals of this volume could not be loaded from the site. The site could not be reached.',
    );
    server.resetHandlers();
    server.use(...browserSite.handlers);
    buttonNamed('Load again').click();
    await loaded();
    expect(document.body.textContent).not.toContain('could not be loaded');
    expect(rowTexts(activityTable())).toHaveLength(2);
  });

  it('shows older entries on request, each once', async () => {
    const { site } = browserSite;
    const device = await registerDevice(site, operator);
    await backUp(site, operator, device, VOLUME, image(2000, 5), { restorers: ['restorer'] });
    for (let i = 0; i < 22; i++) await restore(site, caller('restorer', ['restorer']), VOLUME);
    await openMyVolumes();
    buttonNamed('Restores and refusals').click();
    await loaded();
    expect(rowTexts(activityTable())).toHaveLength(20);
    buttonNamed('Show older entries').click();
    await loaded();
    expect(rowTexts(activityTable())).toHaveLength(22);
    expect(() => buttonNamed('Show older entries')).toThrow();
    const ids = useBackupVolumesStore()
      .activityOf(VOLUME)
      .entries.map((e) => e.id);
    expect(new Set(ids).size).toBe(22);
  });

  it('speaks Japanese', async () => {
    await seedRestoreAndRefusal();
    await openMyVolumes('ja');
    buttonNamed('リストアと拒否の履歴').click();
    await loaded();
    expect(document.body.textContent).toContain(
      '不正な使用: このボリュームのリストア担当者として登録されていません',
    );
    expect(document.body.textContent).toContain('Oscar Outsider（outsider）');
  });
});

describe('restores and refusals: control names', () => {
  it('contain no name the acceptance tests use on /backup (SPEC §6)', () => {
    const reserved = ['Image file', 'Volume ID', 'Restorers', 'Release policy', 'Require approval'];
    reserved.push('Back up', 'Backup progress', 'Pause', 'Resume', 'Cancel', 'Backup status');
    const { activity } = en.backup.volumes;
    for (const name of [activity.show, activity.retry, activity.older]) {
      for (const fixed of reserved)
        expect(name.toLowerCase(), name).not.toContain(fixed.toLowerCase());
    }
  });
});

describe('My volumes: a list the operator can work with', () => {
  const OTHER = 'iso9660:PAYROLL:2026-11-01-00-00-00-00';

  function volumeRows(): string[] {
    const table = [...document.querySelectorAll('table')].find(
      (t) => t.querySelector('caption')?.textContent?.trim() === en.backup.volumes.table,
    )!;
    return rowTexts(table).filter((row) => row.includes(':'));
  }

  it('says when each volume was last backed up, and finds volumes by ID or restorer', async () => {
    const { site } = browserSite;
    const device = await registerDevice(site, operator);
    await backUp(site, operator, device, VOLUME, image(5000, 7), { restorers: ['restorer'] });
    await backUp(site, operator, device, OTHER, image(3000, 8), { restorers: ['restorer2'] });
    const committed = (await site.records.all({ sort: 'volumeId', order: 'asc' })).map(
      (r) => r.lastBackupAt,
    );
    expect(committed.every((at) => at !== null)).toBe(true);
    await openMyVolumes();
    await until(() => volumeRows().length === 2);
    const headers = [...document.querySelectorAll('thead th')].map((th) => th.textContent?.trim());
    expect(headers).toContain('Last backup');
    expect(volumeRows().join(' ')).not.toContain('never');

    const search = document.querySelector<HTMLInputElement>('input[type="search"]')!;
    expect(document.querySelector(`label[for="${search.id}"]`)?.textContent).toBe(
      'Search my volumes',
    );
    search.value = 'restorer2';
    search.dispatchEvent(new Event('input'));
    await settle();
    expect(volumeRows()).toHaveLength(1);
    expect(volumeRows()[0]).toContain(OTHER);
    expect(document.body.textContent).toContain('1 volume');
    search.value = 'nothing-like-it';
    search.dispatchEvent(new Event('input'));
    await settle();
    expect(document.body.textContent).toContain('None of your volumes matches this search.');
  });
});

describe('My volumes: names of the operator’s choosing', () => {
  it('names a volume at the site, shows the name first, and says why a name is refused', async () => {
    const { site } = browserSite;
    const device = await registerDevice(site, operator);
    await backUp(site, operator, device, VOLUME, image(5000, 7), { restorers: ['restorer'] });
    await openMyVolumes();
    await until(() => document.body.textContent!.includes(VOLUME));
    buttonNamed(`Name ${VOLUME}`).click();
    await settle();
    const input = () =>
      [...document.querySelectorAll('label')].find((l) => l.textContent === 'Name of the volume')!
        .control as HTMLInputElement;
    input().value = 'Payroll archive';
    input().dispatchEvent(new Event('input'));
    buttonNamed('Save the name').click();
    await until(() => document.querySelector('.label')?.textContent === 'Payroll archive');
    expect((await site.volumes.myVolumes(operator))[0]!.label).toBe('Payroll archive');
    const search = document.querySelector<HTMLInputElement>('input[type="search"]');
    // One volume needs no search box; the name is still what the row shows first.
    expect(search).toBeNull();

    // A name the site refuses is explained in place, and nothing changes.
    buttonNamed(`Name ${VOLUME}`).click();
    await settle();
    input().value = 'bell\u0007';
    input().dispatchEvent(new Event('input'));
    buttonNamed('Save the name').click();
    await until(() => document.querySelector('[role="alert"]') !== null);
    expect(document.querySelector('[role="alert"]')!.textContent).toBe(
      'A name cannot contain control characters (such as tabs or line breaks).',
    );
    expect((await site.volumes.myVolumes(operator))[0]!.label).toBe('Payroll archive');
  });
});

describe('My volumes: expiries', () => {
  const DAY = 86_400_000;
  const dayFromNow = (days: number) => new Date(Date.now() + days * DAY).toISOString().slice(0, 10);
  const expiryInput = () =>
    [...document.querySelectorAll('label')].find(
      (l) => l.textContent === 'No key is released after the end of (UTC)',
    )!.control as HTMLInputElement;
  async function chooseExpiry(date: string): Promise<void> {
    buttonNamed(`Change expiry of ${VOLUME}`).click();
    await settle();
    expiryInput().value = date;
    expiryInput().dispatchEvent(new Event('input'));
    buttonNamed('Save the expiry').click();
  }

  it('badges an expiry that comes soon and lets the owner extend it, within what an administrator set', async () => {
    const { site } = browserSite;
    const device = await registerDevice(site, operator);
    await backUp(site, operator, device, VOLUME, image(5000, 7), {
      policy: { expiresAt: `${dayFromNow(9)}T23:59:59.000Z` },
    });
    await openMyVolumes();
    await until(() => document.body.textContent!.includes(VOLUME));
    expect(document.querySelector('.expiry-badge')?.textContent).toMatch(
      /^Expires in (9|10) days$/,
    );

    await chooseExpiry(dayFromNow(60));
    const said = () => document.querySelector('.expiry [role="status"]')?.textContent ?? '';
    await until(() => said() !== '');
    expect(said()).toContain(`The expiry of ${VOLUME} is now`);
    const [record] = await site.volumes.myVolumes(operator);
    expect(record!.policy.expiresAt).toBe(`${dayFromNow(60)}T23:59:59.000Z`);
    await until(() => document.querySelector('.expiry-badge') === null);

    // An administrator's expiry is a bound the owner may not pass: said in place, nothing changes.
    const ceiling = `${dayFromNow(30)}T23:59:59.000Z`;
    await site.records.setExpiry(caller('admin', ['admin']), VOLUME, ceiling, 'ticket 7');
    await useBackupVolumesStore().load();
    await settle();
    await chooseExpiry(dayFromNow(45));
    await until(() => document.querySelector('[role="alert"]') !== null);
    expect(document.querySelector('[role="alert"]')!.textContent).toBe(
      'An administrator set the expiry of this volume, so only an administrator can move it later. Ask one, or choose an earlier date.',
    );
    expect((await site.volumes.myVolumes(operator))[0]!.policy.expiresAt).toBe(ceiling);
  });

  it('shows only the volumes expired or expiring soon when asked', async () => {
    const { site } = browserSite;
    const device = await registerDevice(site, operator);
    await backUp(site, operator, device, VOLUME, image(5000, 7), {
      policy: { expiresAt: `${dayFromNow(9)}T23:59:59.000Z` },
    });
    const LATER = 'ext4:0b1c2d3e-4f50-4617-8a9b-0c1d2e3f4a5b';
    await backUp(site, operator, device, LATER, image(5000, 8), {
      policy: { expiresAt: `${dayFromNow(200)}T23:59:59.000Z` },
    });
    await openMyVolumes();
    await until(() => document.body.textContent!.includes(LATER));
    const only = [...document.querySelectorAll('label')].find(
      (l) => l.textContent === 'Only those expired or expiring within 30 days',
    )!.control as HTMLInputElement;
    only.click();
    await until(() => !document.body.textContent!.includes(LATER));
    expect(document.body.textContent).toContain(VOLUME);
    expect(document.body.textContent).toContain('1 volume');
    only.click();
    await until(() => document.body.textContent!.includes(LATER));
  });

  it('refuses a past date before anything is sent', async () => {
    const { site } = browserSite;
    const device = await registerDevice(site, operator);
    await backUp(site, operator, device, VOLUME, image(5000, 7));
    await openMyVolumes();
    await until(() => document.body.textContent!.includes(VOLUME));
    await chooseExpiry(dayFromNow(-2));
    await until(() => document.querySelector('[role="alert"]') !== null);
    expect(document.querySelector('[role="alert"]')!.textContent).toBe(
      'This date has already passed. Choose a later one.',
    );
    expect((await site.volumes.myVolumes(operator))[0]!.policy.expiresAt).toBeNull();
  });
});
