import 'fake-indexeddb/auto';
import { http, HttpResponse } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Pinia } from 'pinia';
import { apiRoutes } from '@/core/contract';
import { CHUNK_SIZE } from '@/core/crypto';
import { server } from '@/testing/msw-server';
import { backupDatabase, closeBackupDatabase, type EscrowPlan } from '@/shared/storage/database';
import { closeKeyStore, wipeAllKeys } from '@/shared/storage/key-store';
import { useBackupStore } from '@/features/backup/stores/backup';
import { useMyPairsStore } from '@/features/backup/stores/my-pairs';
import { useSiteCopiesStore } from '@/features/backup/stores/site-copies';
import {
  memoryImageFile,
  patternBytes,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import type { ImageFile } from '@/features/backup/worker/chunk-reader';
import {
  alertText,
  buttonNamed,
  controlLabelled,
  mountConsole,
  settle,
  type,
  unmountAll,
} from '@/testing/mount-console';
import { otherTestSite, type OtherTestSite } from '@/testing/other-site';
import { testSite, type TestSite } from '@/testing/site';

/**
 * /backup with the keys split across sites (MS-4): with two or more sites
 * ticked the operator types "Sites needed to restore" (k of n, never
 * defaulted) before "Back up"; one-time policies need more than half of the
 * sites; k = 1 asks for a confirmation; a volume already split keeps its
 * sites and k.
 */

useSameRealmTextEncoder();
vi.setConfig({ testTimeout: 60_000, hookTimeout: 30_000 });

/** Where the sites store keeps other sites' bearer tokens for the tab (sign-ins.ts). */
const TOKENS_KEY = 'custodian.other-site-tokens';
const K = 'Sites needed to restore';
const CONFIRM = 'I understand that any one site could decrypt this volume';

let site: TestSite;
let osaka: OtherTestSite;
let sapporo: OtherTestSite;
let pinia: Pinia;

beforeEach(async () => {
  site = await testSite();
  server.use(http.get(apiRoutes.myPairs.path, () => HttpResponse.json({ pairs: [] })));
  osaka = await otherTestSite(site, 'Osaka', 'https://osaka.example');
  sapporo = await otherTestSite(site, 'Sapporo', 'https://sapporo.example');
  sessionStorage.setItem(
    TOKENS_KEY,
    JSON.stringify({
      [osaka.site.info.siteId]: await osaka.token('operator'),
      [sapporo.site.info.siteId]: await sapporo.token('operator'),
    }),
  );
});

afterEach(async () => {
  unmountAll();
  if (pinia) {
    useMyPairsStore(pinia).stop();
    useSiteCopiesStore(pinia).stop();
  }
  await settle();
  sessionStorage.clear();
  await backupDatabase().delete();
  closeBackupDatabase();
  await wipeAllKeys();
  await closeKeyStore();
});

const squash = (text: string | null | undefined): string => (text ?? '').replace(/\s+/g, ' ');

function statusText(): string {
  return squash(document.querySelector('[role="region"][aria-label="Backup status"]')?.textContent);
}

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; status: ${statusText()}`);
    await settle();
  }
}

function sitesGroup(): HTMLFieldSetElement {
  const group = [...document.querySelectorAll('fieldset')].find(
    (f) => f.querySelector('legend')?.textContent?.trim() === 'Sites',
  );
  if (!group) throw new Error('no group "Sites"');
  return group;
}

/** The spinbutton (an `<input type="number">`) with this accessible name, or null. */
function spinbutton(name: string): HTMLInputElement | null {
  const label = [...document.querySelectorAll('label')].find((l) => l.textContent?.trim() === name);
  if (!label) return null;
  const input = document.getElementById(label.htmlFor);
  if (!(input instanceof HTMLInputElement) || input.type !== 'number') {
    throw new Error(`"${name}" is not a spinbutton`);
  }
  return input;
}

/** What a screen reader hears with the control: the texts its aria-describedby names. */
function description(control: Element): string {
  return (control.getAttribute('aria-describedby') ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((id) => squash(document.getElementById(id)?.textContent).trim())
    .join(' ');
}

async function open(): Promise<void> {
  ({ pinia } = await mountConsole('/backup', { signedInAs: 'operator' }));
  await until(() => document.querySelector('fieldset legend') !== null, 'the group "Sites"');
}

async function choose(file: ImageFile): Promise<void> {
  const input = controlLabelled('Image file') as HTMLInputElement;
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  input.dispatchEvent(new Event('change', { bubbles: true }));
  const backup = useBackupStore(pinia);
  await until(() => backup.identity !== null && !backup.settling, 'detection');
  await settle();
}

async function tick(name: string): Promise<void> {
  const box = controlLabelled(name) as HTMLInputElement;
  box.checked = true;
  box.dispatchEvent(new Event('change', { bubbles: true }));
  await settle();
}

async function choosePolicy(value: 'one-time' | 'once-per-restorer' | 'reusable'): Promise<void> {
  const select = controlLabelled('Release policy') as HTMLSelectElement;
  select.value = value;
  select.dispatchEvent(new Event('change', { bubbles: true }));
  await settle();
}

async function typeK(value: string): Promise<void> {
  await type(spinbutton(K)!, value);
  await settle();
}

const backUpEnabled = (): boolean => !buttonNamed('Back up').disabled;

const image = (seed = 1): ImageFile =>
  memoryImageFile(patternBytes(Math.floor(1.5 * CHUNK_SIZE), seed), 'disk.img');

describe('sites needed to restore (MS-4)', () => {
  it('asks for it once a second site is ticked, empty, and holds "Back up" until a number is typed', async () => {
    await open();
    await choose(image());
    expect(spinbutton(K)).toBeNull();
    expect(backUpEnabled()).toBe(true);

    await tick('Osaka');
    const field = spinbutton(K)!;
    expect(field).not.toBeNull();
    expect(field.value).toBe('');
    expect(field.min).toBe('1');
    expect(field.max).toBe('2');
    expect(field.getAttribute('aria-invalid')).toBeNull();
    expect(backUpEnabled()).toBe(false);
    // A quiet hint, not an error.
    expect(description(field)).toContain('Type how many of the 2 sites');
    expect(alertText()).not.toContain('Type how many');
    // The keys are split: the sentence about copies only no longer holds.
    expect(squash(sitesGroup().textContent)).toContain(
      'The keys are split across the 2 sites ticked',
    );
    expect(squash(sitesGroup().textContent)).not.toContain('the keys stay at this site');
    expect(squash(sitesGroup().textContent)).toContain('keeps a share of the keys');

    await typeK('2');
    expect(useBackupStore(pinia).threshold).toBe(2);
    expect(backUpEnabled()).toBe(true);
    expect(description(field)).toContain(
      'any 2 of them together can restore, and fewer learn nothing',
    );

    // Cleared again: empty, and "Back up" waits again.
    await typeK('');
    expect(useBackupStore(pinia).threshold).toBeNull();
    expect(backUpEnabled()).toBe(false);
  });

  it('refuses less than a majority under a one-time policy, and takes one', async () => {
    await open();
    await choose(image(2));
    await choosePolicy('one-time');
    await tick('Osaka');
    await tick('Sapporo');
    expect(spinbutton(K)!.max).toBe('3');

    await typeK('1');
    const field = spinbutton(K)!;
    const refusal =
      'A one-time or once-per-restorer policy needs more than half of the sites: choose at least 2 of 3, so that two restores can never both gather enough shares.';
    expect(squash(alertText())).toContain(refusal);
    expect(field.getAttribute('aria-invalid')).toBe('true');
    expect(description(field)).toContain(refusal);
    expect(backUpEnabled()).toBe(false);
    // Refused outright: no confirmation is offered instead.
    expect(() => controlLabelled(CONFIRM)).toThrow();

    await typeK('2');
    expect(alertText()).not.toContain('more than half');
    expect(field.getAttribute('aria-invalid')).toBeNull();
    expect(backUpEnabled()).toBe(true);
  });

  it('warns that any one site could decrypt with 1, and backs up only once the operator confirms', async () => {
    await open();
    await choose(image(3));
    await choosePolicy('reusable');
    await tick('Osaka');
    await typeK('1');
    const field = spinbutton(K)!;
    expect(alertText()).toContain('any one site could decrypt');
    expect(description(field)).toContain('any one site could decrypt');
    expect(backUpEnabled()).toBe(false);

    const confirm = controlLabelled(CONFIRM) as HTMLInputElement;
    expect(confirm.type).toBe('checkbox');
    expect(confirm.checked).toBe(false);
    await tick(CONFIRM);
    expect(useBackupStore(pinia).singleSiteConfirmed).toBe(true);
    expect(backUpEnabled()).toBe(true);
    // The warning stays while k = 1.
    expect(squash(sitesGroup().textContent)).toContain('any one site could decrypt');

    // Another number, then 1 again: the confirmation is asked again.
    await typeK('2');
    expect(useBackupStore(pinia).singleSiteConfirmed).toBe(false);
    await typeK('1');
    expect(backUpEnabled()).toBe(false);
  });

  it('says the number must lie within 1 to the number of sites ticked', async () => {
    await open();
    await choose(image(4));
    await tick('Osaka');
    await tick('Sapporo');
    await typeK('4');
    const field = spinbutton(K)!;
    expect(alertText()).toContain(
      'The number of sites needed to restore must be a whole number from 1 to 3.',
    );
    expect(field.getAttribute('aria-invalid')).toBe('true');
    expect(description(field)).toContain('from 1 to 3');
    expect(backUpEnabled()).toBe(false);

    await typeK('3');
    expect(alertText()).not.toContain('from 1 to 3');
    expect(backUpEnabled()).toBe(true);
  });

  it('keeps the sites and the number of a volume already split, shown and not changeable', async () => {
    await open();
    await choose(image(5));
    const backup = useBackupStore(pinia);
    const jwk = { kty: 'EC', crv: 'P-256', x: 'x'.repeat(43), y: 'y'.repeat(43) } as const;
    const plan: EscrowPlan = {
      threshold: 2,
      sites: [
        { siteId: 'home-site', fingerprint: 'home', escrowKey: jwk },
        { siteId: osaka.site.info.siteId, fingerprint: 'osaka', escrowKey: jwk },
        { siteId: sapporo.site.info.siteId, fingerprint: 'sapporo', escrowKey: jwk },
      ],
    };
    backup.earlierPlan = plan;
    backup.copySites = [osaka.site.info.siteId, sapporo.site.info.siteId];
    backup.threshold = 2;
    await settle();

    const field = spinbutton(K)!;
    expect(field.value).toBe('2');
    expect(field.disabled).toBe(true);
    for (const name of ['Osaka', 'Sapporo']) {
      const box = controlLabelled(name) as HTMLInputElement;
      expect([box.checked, box.disabled]).toEqual([true, true]);
    }
    expect(description(field)).toContain(
      'The sites and the number of sites needed to restore stay as the first generation of this volume chose them.',
    );
    expect(squash(sitesGroup().textContent)).toContain('The keys are split across the 3 sites');
    expect(backUpEnabled()).toBe(true);

    // A volume whose keys stayed whole at the home site: nothing is asked, the others keep copies.
    backup.earlierPlan = null;
    backup.copySites = [osaka.site.info.siteId];
    backup.threshold = null;
    await settle();
    expect(spinbutton(K)).toBeNull();
    expect((controlLabelled('Sapporo') as HTMLInputElement).disabled).toBe(false);
    expect(squash(sitesGroup().textContent)).toContain(
      'Other sites ticked keep a copy of the encrypted image only; the keys stay at this site.',
    );
    expect(squash(sitesGroup().textContent)).toContain('keeps the keys');
    expect(backUpEnabled()).toBe(true);
  });

  it('says how many of the sites confirmed the generation, and which keep a share', async () => {
    await open();
    await choose(image(7));
    await tick('Osaka');
    await typeK('2');
    buttonNamed('Back up').click();
    await until(() => statusText().includes('Backup complete'), 'completion', 60_000);
    expect(statusText()).toContain('2 of 2 sites confirmed');
    expect(statusText()).toContain('Osaka generation 1 stored, keeps a share');
    expect(statusText()).not.toContain('stored (encrypted only)');
  });
});
