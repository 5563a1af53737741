import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KeyRelease } from '@/core/contract';
import { publicKeyFingerprint } from '@/core/crypto';
import { listRestoreKeys } from '@/shared/storage/key-store';
import { listRestores } from '@/shared/storage/restore-progress';
import { useRestoreStore } from '@/features/restore/stores/restore';
import { setRestoreRuntime } from '@/features/restore/engine/restore-runtime';
import { MemoryRestoreRuntime, testBackup } from '@/testing/restore-test-support';
import { useSameRealmTextEncoder } from '@/testing/backup-test-support';
import { mountConsole, settle, type } from '@/testing/mount-console';
import { testSite, type TestSite } from '@/testing/site';
import {
  FAST_RETRY,
  buttonIn,
  clickMenuItem,
  resetBrowserStorage,
  rowOf,
  statusText,
  text,
} from '@/testing/restore-view-support';

useSameRealmTextEncoder();

const VOLUME = 'ext4:0f6e3c1a-5b2d-4c8e-9a7f-1234567890ab';
const OTHER = 'iso9660:PAYROLL_2026:2026-11-01-09-00-00-00';

let runtime: MemoryRestoreRuntime;
let site: TestSite;

/** What the page asked of the volume endpoints (key releases, manifests, chunks, scrubs). */
const volumeRequests = (): string[] => site.requests().filter((r) => r.includes('/api/volumes/'));
const keyRequests = (): string[] => site.requests().filter((r) => r.includes('key-release'));

/** The integrity reports the site received (RS-5), as its audit log keeps them. */
async function integrityReports(): Promise<unknown[]> {
  return (await site.auditEntries())
    .filter((entry) => entry.event === 'integrity_failure_reported')
    .map((entry) => entry.details);
}

async function alertKinds(): Promise<[string, string | null, string | null][]> {
  return (await site.site.alerts.all({})).map((a) => [a.kind, a.userId, a.volumeId]);
}

/** The administrator decides the pending key request. */
async function decide(approve: boolean, reason: string): Promise<void> {
  const [pending] = await site.site.releases.pendingApprovals();
  await site.site.releases.decide(await site.caller('admin'), pending!.requestId, approve, reason);
}

/** Crypto in jsdom is slow: wait generously for what a person would see. */
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

async function open(userId: string) {
  const mounted = await mountConsole('/restore', { signedInAs: userId });
  const store = useRestoreStore(mounted.pinia);
  store.setRetryPolicy(FAST_RETRY);
  await until(() => expect(document.querySelector('table')).not.toBeNull());
  // The site's list has arrived (or failed): the rows are the ones a person would see.
  await until(() => expect(['ready', 'failed']).toContain(store.listState));
  return mounted;
}

async function completes(): Promise<void> {
  await until(() => expect(statusText()).toContain('Restore complete'));
}

beforeEach(async () => {
  runtime = new MemoryRestoreRuntime();
  setRestoreRuntime(runtime);
  site = await testSite();
});

afterEach(async () => {
  setRestoreRuntime(undefined);
  await resetBrowserStorage();
});

describe('restore screen (RS-1)', { timeout: 30_000 }, () => {
  it('lists restorable volumes with generations, size, policy, copies and why some cannot be restored', async () => {
    const first = await testBackup(VOLUME);
    await site.commit('operator', first, { restorers: ['restorer'] });
    await site.commit('operator', await testBackup(VOLUME, { previous: first, seed: 9 }), {
      restorers: ['restorer'],
    });
    await site.commit('operator2', await testBackup(OTHER), {
      restorers: ['restorer'],
      policy: { kind: 'one-time', approvalRequired: true },
    });
    // The one-time key was released once, with an administrator's approval.
    const asked = (await site.askForKey('restorer', OTHER)).json as KeyRelease;
    expect(asked.state).toBe('pending_approval');
    await site.site.releases.decide(await site.caller('admin'), asked.requestId, true, 'test');
    await open('restorer');
    await until(() => expect(rowOf(VOLUME)).not.toBeNull());
    const row = rowOf(VOLUME)!.textContent!;
    expect(row).toContain('2 (latest 2)');
    expect(row).toContain('5.1 KiB');
    expect(row).toContain('Reusable');
    expect(row).toContain('Can be restored now');
    const used = rowOf(OTHER)!;
    expect(used.textContent).toContain('One-time, approval required');
    expect(used.textContent).toContain('Already restored: its one-time key was released');
    expect(buttonIn(used, 'Restore').disabled).toBe(true);
    expect(buttonIn(rowOf(VOLUME)!, 'Restore').disabled).toBe(false);
    expect(document.querySelector('[role="region"][aria-label="Restore status"]')).not.toBeNull();
  });

  it('shows the empty state when nothing can be restored', async () => {
    await open('restorer');
    await until(() => expect(text()).toContain('No restorable volumes yet'));
  });

  it('says when the site cannot list the volumes', async () => {
    site.outage((request) => new URL(request.url).pathname === '/api/restorable');
    await mountConsole('/restore', { signedInAs: 'restorer' });
    await until(() => expect(text()).toContain('could not be loaded from the site'));
    expect(text()).toContain('The site could not be reached.');
  });
});

describe('restoring (RS-2..RS-7)', { timeout: 30_000 }, () => {
  it('"Restore" starts at once with the latest generation and downloads the verified image', async () => {
    const first = await testBackup(VOLUME);
    const second = await testBackup(VOLUME, { previous: first, seed: 3, fileName: 'second.img' });
    await site.commit('operator', first, { restorers: ['restorer'] });
    await site.commit('operator', second, { restorers: ['restorer'] });
    await open('restorer');
    // A double click starts one restore.
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await completes();
    expect(keyRequests()).toHaveLength(1);
    expect(statusText()).toContain(second.secret.imageSha256);
    expect(statusText()).toContain('The image second.img was handed to the browser');
    expect(runtime.downloads.map((d) => d.fileName)).toEqual(['second.img']);
    expect(await runtime.sha256Of(runtime.downloads[0]!.restoreId)).toBe(second.secret.imageSha256);
    const bar = document.querySelector('[role="progressbar"][aria-label="Restore progress"]')!;
    expect(bar.getAttribute('aria-valuenow')).toBe('100');
    // RS-2: the ephemeral key is gone once the restore has ended.
    expect(await listRestoreKeys()).toEqual([]);
    expect((await listRestores('restorer'))[0]?.phase).toBe('complete');
  });

  it('"Options" restores another generation, or from the site only', async () => {
    const first = await testBackup(VOLUME);
    await site.commit('operator', first, { restorers: ['restorer'] });
    await site.commit('operator', await testBackup(VOLUME, { previous: first, seed: 4 }), {
      restorers: ['restorer'],
    });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Options').click();
    await settle();
    clickMenuItem(/^Generation 1,/);
    await completes();
    expect(statusText()).toContain(first.secret.imageSha256);
    expect(statusText()).toContain(`${VOLUME}, generation 1`);
  });

  it('the owner restores their own volume (owner recovery)', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup);
    await open('operator');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await completes();
    expect(statusText()).toContain(backup.secret.imageSha256);
  });

  it('"Open volume" requests the keys at once, as when holding the medium', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    await open('restorer');
    await type(document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!, VOLUME);
    buttonIn(document.body, 'Open volume').click();
    await completes();
    expect(statusText()).toContain(backup.secret.imageSha256);
  });

  it('asks for a volume ID before opening', async () => {
    await open('restorer');
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(text()).toContain('Type a volume ID first.'));
    expect(keyRequests()).toEqual([]);
  });
});

describe('refusals (RS-2, RS-3)', { timeout: 30_000 }, () => {
  it('refuses "unauthorized use" to someone not registered, fetches nothing and alerts the site', async () => {
    await site.commit('operator', await testBackup(VOLUME), { restorers: ['restorer'] });
    await open('outsider');
    await type(document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!, VOLUME);
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(statusText()).toContain('unauthorized use'));
    expect(statusText()).toContain('Nothing was fetched');
    expect(volumeRequests()).toEqual([`POST /api/volumes/${VOLUME}/key-release`]);
    expect(await alertKinds()).toContainEqual(['unauthorized_restorer', 'outsider', VOLUME]);
    expect(await listRestoreKeys()).toEqual([]);
    expect(runtime.files.size).toBe(0);
  });

  it('tells a typing slip apart from a volume: nothing asked of the site, no alert', async () => {
    await open('restorer');
    await type(
      document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!,
      'not a volume id',
    );
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(document.body.textContent).toContain('That is not a volume ID'));
    expect(volumeRequests()).toEqual([]);
    expect(await alertKinds()).toEqual([]);
  });

  it('still alerts on a well-formed volume ID the site does not know', async () => {
    await open('restorer');
    const unknown = 'ext4:00000000-0000-4000-8000-000000000000';
    await type(document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!, unknown);
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(statusText()).toContain('no key for this volume'));
    expect(volumeRequests()).toEqual([`POST /api/volumes/${unknown}/key-release`]);
    expect(
      (await alertKinds()).some(
        ([kind, , volume]) => kind === 'key_not_found' && volume === unknown,
      ),
    ).toBe(true);
  });

  it('one-time: the first restore works, the next gets "may already have been decrypted"', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, {
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await completes();
    await until(() => expect(rowOf(VOLUME)!.textContent).toContain('Already restored'));
    buttonIn(document.body, 'Close').click();
    await type(document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!, VOLUME);
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(statusText()).toContain('may already have been decrypted'));
    expect(statusText()).toContain('may have been tampered with');
    expect((await alertKinds()).some(([kind]) => kind === 'key_not_found')).toBe(true);
  });

  it('once per restorer: the released key goes when the restore completes, and a second restore asks the site, which refuses it', async () => {
    await site.commit('operator', await testBackup(VOLUME), {
      restorers: ['restorer'],
      policy: { kind: 'once-per-restorer' },
    });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await completes();
    // Nothing of the release is kept once the image is out (kept only for a resume).
    expect(await listRestoreKeys()).toEqual([]);
    await until(() =>
      expect(rowOf(VOLUME)!.textContent).toContain('You already received its key once'),
    );
    const asked = keyRequests().length;
    buttonIn(document.body, 'Close').click();
    await type(document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!, VOLUME);
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(statusText()).toContain('may already have been decrypted'));
    expect(keyRequests().length).toBeGreaterThan(asked);
    const refused = (await site.auditEntries()).filter(
      (e) => e.event === 'key_not_found' && e.actor === 'restorer',
    );
    expect(refused.map((e) => e.details['why'])).toEqual([
      'restorer already received the key once',
    ]);
  });

  it.each([
    ['revoked', 'revoked the escrow record'],
    ['expired', 'has expired'],
  ] as const)('explains a %s record', async (what, sentence) => {
    const inAnHour = new Date(Date.now() + 3600_000).toISOString();
    await site.commit('operator', await testBackup(VOLUME), {
      restorers: ['restorer'],
      ...(what === 'expired' ? { policy: { expiresAt: inAnHour } } : {}),
    });
    if (what === 'revoked') {
      await site.site.records.revoke(await site.caller('admin'), VOLUME, 'the medium was lost');
    } else {
      site.setTime(new Date(Date.now() + 2 * 3600_000).toISOString());
    }
    await open('restorer');
    await until(() =>
      expect(rowOf(VOLUME)!.textContent).toContain(what === 'revoked' ? 'Revoked' : 'Expired'),
    );
    await type(document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!, VOLUME);
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(statusText()).toContain(sentence));
  });

  it('waits for approval, then continues by itself when an administrator approves', async () => {
    site.liveEvents();
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, {
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    await open('restorer');
    // The status says what a click will do: wait for an administrator.
    await until(() =>
      expect(rowOf(VOLUME)!.textContent).toContain(
        'Needs approval: an administrator approves each release',
      ),
    );
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('waiting for approval'));
    await decide(true, 'approved in a test');
    await completes();
    expect(statusText()).toContain(backup.secret.imageSha256);
  });

  it('shows the denial when an administrator denies the key request', async () => {
    site.liveEvents();
    await site.commit('operator', await testBackup(VOLUME), {
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('waiting for approval'));
    await decide(false, 'not during the audit');
    await until(() =>
      expect(statusText()).toContain(
        'An administrator denied the key request: not during the audit',
      ),
    );
    expect(await listRestoreKeys()).toEqual([]);
  });
});

describe('integrity and failures (RS-5, RS-8)', { timeout: 30_000 }, () => {
  it('stops at a tampered chunk, names it, discards the partial image and alerts the site', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const victim = backup.manifest.index.chunks[3]!.chunkId;
    await site.tamperChunk(VOLUME, victim, 40);
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('tampered'));
    expect(statusText()).toContain(`Chunk 3 (${victim}) was tampered with or damaged`);
    await until(() => expect(statusText()).toContain('The site’s administrators were alerted.'));
    expect(statusText()).not.toContain('Restore complete');
    expect(runtime.files.size).toBe(0);
    expect(runtime.downloads).toEqual([]);
    expect(await integrityReports()).toEqual([
      {
        volumeId: VOLUME,
        generation: 1,
        source: 'site',
        check: 'index-hash',
        chunkIndex: 3,
        chunkId: victim,
      },
    ]);
    expect(await alertKinds()).toContainEqual(['integrity_failure', 'restorer', VOLUME]);
    expect(await listRestores('restorer')).toEqual([]);
  });

  it('stops when the signed index does not verify', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    // Another device of the owner, registered at the site.
    const stranger = await testBackup(OTHER, { seed: 99 });
    await site.commit('operator', stranger);
    const strangerFingerprint = await publicKeyFingerprint(stranger.deviceKeyPair.publicKey);
    // The site's storage says the other device signed: the signature no longer verifies.
    site.editGeneration(VOLUME, 1, (row) => ({ ...row, deviceFingerprint: strangerFingerprint }));
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() =>
      expect(statusText()).toContain('signed index of this generation was tampered'),
    );
    expect(site.requests().some((r) => r.includes('/chunks/'))).toBe(false);
    await vi.waitFor(
      async () =>
        expect(await integrityReports()).toEqual([
          { volumeId: VOLUME, generation: 1, source: 'site', check: 'manifest' },
        ]),
      { timeout: 10_000, interval: 20 },
    );
  });

  it('retries an unreachable site, then says so; nothing is marked complete and it continues later', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    await open('restorer');
    site.outage(() => true);
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() =>
      expect(statusText()).toContain('The site could not be reached: tried 3 times'),
    );
    expect(statusText()).toContain('Nothing was marked complete');
    expect(statusText()).not.toContain('Restore complete');
    const [record] = await listRestores('restorer');
    expect(record?.phase).toBe('keys');
    // It holds a key request: continued or cancelled before another restore starts.
    expect(buttonIn(rowOf(VOLUME)!, 'Restore').disabled).toBe(true);
    expect(buttonIn(document.body, 'Open volume').disabled).toBe(true);
    site.outage(undefined);
    buttonIn(document.body, 'Continue').click();
    await completes();
    expect(statusText()).toContain(backup.secret.imageSha256);
  });

  it('keeps what was verified when the site goes away mid-restore', async () => {
    const backup = await testBackup(VOLUME);
    await site.commit('operator', backup, { restorers: ['restorer'] });
    const { pinia } = await open('restorer');
    // The site loses its connection after handing out two chunks.
    let served = 0;
    site.outage((request) => {
      if (request.method === 'GET' && request.url.includes('/chunks/')) served++;
      return served > 2;
    });
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('could not be reached'));
    const store = useRestoreStore(pinia);
    expect(store.active?.stage).toBe('interrupted');
    expect(store.active!.bytesWritten).toBeGreaterThan(0);
    expect(statusText()).toContain('are verified and kept');
    site.outage(undefined);
    buttonIn(document.body, 'Continue').click();
    await completes();
    expect(await runtime.sha256Of(runtime.downloads[0]!.restoreId)).toBe(backup.secret.imageSha256);
  });

  it('says when the browser has no room for the image', async () => {
    await site.commit('operator', await testBackup(VOLUME), { restorers: ['restorer'] });
    runtime.room = 100;
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('no room left for the restored image'));
  });

  it('says when the browser cannot write restored images', async () => {
    await site.commit('operator', await testBackup(VOLUME), { restorers: ['restorer'] });
    runtime.available = false;
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('cannot write restored images'));
    expect(keyRequests()).toEqual([]);
  });

  it('Cancel deletes the partial image and the key', async () => {
    site.liveEvents();
    await site.commit('operator', await testBackup(VOLUME), {
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('waiting for approval'));
    buttonIn(document.body, 'Cancel').click();
    await until(() => expect(statusText()).toContain('Cancelled.'));
    expect(await listRestoreKeys()).toEqual([]);
    expect(await listRestores('restorer')).toEqual([]);
  });
});

function labelFor(text: string): string {
  const label = [...document.querySelectorAll('label')].find((l) => l.textContent?.trim() === text);
  if (!label) throw new Error(`no label ${text}`);
  return label.htmlFor;
}
