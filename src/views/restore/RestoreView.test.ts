import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setEventSourceFactory } from '@/composables/use-event-stream';
import { exportPublicKeySpki, toBase64Url } from '@/core/crypto';
import { demoSite } from '@/mocks/demo-site';
import { installDemoEventStream } from '@/mocks/live-events';
import { restoreSite } from '@/mocks/restore-site';
import { listRestoreKeys } from '@/storage/key-store';
import { listRestores } from '@/storage/restore-progress';
import { useRestoreStore } from '@/stores/restore';
import { setRestoreRuntime } from '@/stores/restore-runtime';
import { MemoryRestoreRuntime, testBackup } from '@/stores/restore-test-support';
import { useSameRealmTextEncoder } from '@/stores/backup-test-support';
import { mountConsole, settle, type } from '@/test/mount-console';
import {
  FAST_RETRY,
  buttonIn,
  clickMenuItem,
  flipByte,
  resetBrowserStorage,
  rowOf,
  statusText,
  text,
} from './restore-view-support';

useSameRealmTextEncoder();

const VOLUME = 'ext4:0f6e3c1a-5b2d-4c8e-9a7f-1234567890ab';
const OTHER = 'iso9660:PAYROLL_2026:2026-11-01-09-00-00-00';

let runtime: MemoryRestoreRuntime;

/** Crypto in jsdom is slow: wait generously for what a person would see. */
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

async function open(userId: string) {
  const mounted = await mountConsole('/restore', { signedInAs: userId });
  useRestoreStore(mounted.pinia).setRetryPolicy(FAST_RETRY);
  await until(() => expect(document.querySelector('table')).not.toBeNull());
  return mounted;
}

async function completes(): Promise<void> {
  await until(() => expect(statusText()).toContain('Restore complete'));
}

beforeEach(() => {
  runtime = new MemoryRestoreRuntime();
  setRestoreRuntime(runtime);
});

afterEach(async () => {
  setRestoreRuntime(undefined);
  setEventSourceFactory(undefined);
  restoreSite.reset();
  await resetBrowserStorage();
});

describe('restore screen (RS-1)', { timeout: 30_000 }, () => {
  it('lists restorable volumes with generations, size, policy, copies and why some cannot be restored', async () => {
    const first = await testBackup(VOLUME);
    await restoreSite.commit(first, { owner: 'operator', restorers: ['restorer'] });
    await restoreSite.commit(await testBackup(VOLUME, { previous: first, seed: 9 }), {
      owner: 'operator',
    });
    await restoreSite.commit(await testBackup(OTHER), {
      owner: 'operator2',
      restorers: ['restorer'],
      policy: { kind: 'one-time', approvalRequired: true },
    });
    restoreSite.volumes.get(OTHER)!.state = 'burned';
    await open('restorer');
    await until(() => expect(rowOf(VOLUME)).not.toBeNull());
    const row = rowOf(VOLUME)!.textContent!;
    expect(row).toContain('2 (latest 2)');
    expect(row).toContain('5.1 KiB');
    expect(row).toContain('Reusable');
    expect(row).toContain('Can be restored now');
    const used = rowOf(OTHER)!;
    expect(used.textContent).toContain('One-time, approval required');
    expect(used.textContent).toContain('Used: its one-time key was already released');
    expect(buttonIn(used, 'Restore').disabled).toBe(true);
    expect(buttonIn(rowOf(VOLUME)!, 'Restore').disabled).toBe(false);
    expect(document.querySelector('[role="region"][aria-label="Restore status"]')).not.toBeNull();
  });

  it('shows the empty state when nothing can be restored', async () => {
    await open('restorer');
    await until(() => expect(text()).toContain('No restorable volumes yet'));
  });

  it('says when the site cannot list the volumes', async () => {
    restoreSite.reachable = false;
    await mountConsole('/restore', { signedInAs: 'restorer' });
    await until(() => expect(text()).toContain('could not be loaded from the site'));
    expect(text()).toContain('The site could not be reached.');
  });
});

describe('restoring (RS-2..RS-7)', { timeout: 30_000 }, () => {
  it('"Restore" starts at once with the latest generation and downloads the verified image', async () => {
    const first = await testBackup(VOLUME);
    const second = await testBackup(VOLUME, { previous: first, seed: 3, fileName: 'second.img' });
    await restoreSite.commit(first, { owner: 'operator', restorers: ['restorer'] });
    await restoreSite.commit(second, { owner: 'operator' });
    await open('restorer');
    // A double click starts one restore.
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await completes();
    expect(restoreSite.releases.size).toBe(1);
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
    await restoreSite.commit(first, { owner: 'operator', restorers: ['restorer'] });
    await restoreSite.commit(await testBackup(VOLUME, { previous: first, seed: 4 }), {
      owner: 'operator',
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
    await restoreSite.commit(backup, { owner: 'operator' });
    await open('operator');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await completes();
    expect(statusText()).toContain(backup.secret.imageSha256);
  });

  it('"Open volume" requests the keys at once, as when holding the medium', async () => {
    const backup = await testBackup(VOLUME);
    await restoreSite.commit(backup, { owner: 'operator', restorers: ['restorer'] });
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
    expect(restoreSite.requests.filter((r) => r.includes('key-release'))).toEqual([]);
  });
});

describe('refusals (RS-2, RS-3)', { timeout: 30_000 }, () => {
  it('refuses "unauthorized use" to someone not registered, fetches nothing and alerts the site', async () => {
    await restoreSite.commit(await testBackup(VOLUME), {
      owner: 'operator',
      restorers: ['restorer'],
    });
    await open('outsider');
    await type(document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!, VOLUME);
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(statusText()).toContain('unauthorized use'));
    expect(statusText()).toContain('Nothing was fetched');
    expect(restoreSite.requests.filter((r) => !r.startsWith('GET /api/restorable'))).toEqual([
      `POST /api/volumes/${VOLUME}/key-release`,
    ]);
    const alerts = demoSite.alerts.all({});
    expect(alerts.map((a) => [a.kind, a.userId, a.volumeId])).toContainEqual([
      'unauthorized_restorer',
      'outsider',
      VOLUME,
    ]);
    expect(await listRestoreKeys()).toEqual([]);
    expect(runtime.files.size).toBe(0);
  });

  it('one-time: the first restore works, the next gets "may already have been decrypted"', async () => {
    const backup = await testBackup(VOLUME);
    await restoreSite.commit(backup, {
      owner: 'operator',
      restorers: ['restorer'],
      policy: { kind: 'one-time' },
    });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await completes();
    await until(() => expect(rowOf(VOLUME)!.textContent).toContain('Used'));
    buttonIn(document.body, 'Close').click();
    await type(document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!, VOLUME);
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(statusText()).toContain('may already have been decrypted'));
    expect(statusText()).toContain('may have been tampered with');
    expect(demoSite.alerts.all({}).some((a) => a.kind === 'key_not_found')).toBe(true);
  });

  it.each([
    ['revoked', 'revoked the escrow record'],
    ['expired', 'has expired'],
  ] as const)('explains a %s record', async (what, sentence) => {
    await restoreSite.commit(await testBackup(VOLUME), {
      owner: 'operator',
      restorers: ['restorer'],
      ...(what === 'expired' ? { policy: { expiresAt: '2020-01-01T00:00:00.000Z' } } : {}),
    });
    if (what === 'revoked') restoreSite.volumes.get(VOLUME)!.state = 'revoked';
    await open('restorer');
    await until(() =>
      expect(rowOf(VOLUME)!.textContent).toContain(what === 'revoked' ? 'Revoked' : 'Expired'),
    );
    await type(document.querySelector<HTMLInputElement>('#' + labelFor('Volume ID'))!, VOLUME);
    buttonIn(document.body, 'Open volume').click();
    await until(() => expect(statusText()).toContain(sentence));
  });

  it('waits for approval, then continues by itself when an administrator approves', async () => {
    installDemoEventStream();
    const backup = await testBackup(VOLUME);
    await restoreSite.commit(backup, {
      owner: 'operator',
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('waiting for approval'));
    const [pending] = restoreSite.releases.keys();
    await restoreSite.decide(pending!, true);
    await completes();
    expect(statusText()).toContain(backup.secret.imageSha256);
  });

  it('shows the denial when an administrator denies the key request', async () => {
    installDemoEventStream();
    await restoreSite.commit(await testBackup(VOLUME), {
      owner: 'operator',
      restorers: ['restorer'],
      policy: { approvalRequired: true },
    });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('waiting for approval'));
    const [pending] = restoreSite.releases.keys();
    await restoreSite.decide(pending!, false, 'not during the audit');
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
    await restoreSite.commit(backup, { owner: 'operator', restorers: ['restorer'] });
    const victim = backup.manifest.index.chunks[3]!.chunkId;
    flipByte(restoreSite.volumes.get(VOLUME)!.blobs.get(victim)!, 40);
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('tampered'));
    expect(statusText()).toContain(`Chunk 3 (${victim}) was tampered with or damaged`);
    await until(() => expect(statusText()).toContain('The site’s administrators were alerted.'));
    expect(statusText()).not.toContain('Restore complete');
    expect(runtime.files.size).toBe(0);
    expect(runtime.downloads).toEqual([]);
    expect(restoreSite.integrityReports).toEqual([
      expect.objectContaining({ volumeId: VOLUME, generation: 1, chunkIndex: 3, chunkId: victim }),
    ]);
    expect(demoSite.alerts.all({}).some((a) => a.kind === 'integrity_failure')).toBe(true);
    expect(await listRestores('restorer')).toEqual([]);
  });

  it('stops when the signed index does not verify', async () => {
    const backup = await testBackup(VOLUME);
    await restoreSite.commit(backup, { owner: 'operator', restorers: ['restorer'] });
    const generation = restoreSite.volumes.get(VOLUME)!.generations.get(1)!;
    const stranger = await testBackup(VOLUME, { seed: 99 });
    // Another device's key: the signature no longer verifies for this manifest.
    restoreSite.volumes.get(VOLUME)!.generations.set(1, {
      ...generation,
      devicePublicKey: toBase64Url(await exportPublicKeySpki(stranger.deviceKeyPair.publicKey)),
    });
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() =>
      expect(statusText()).toContain('signed index of this generation was tampered'),
    );
    expect(restoreSite.requests.some((r) => r.includes('/chunks/'))).toBe(false);
    await until(() => expect(restoreSite.integrityReports).toHaveLength(1));
  });

  it('retries an unreachable site, then says so; nothing is marked complete and it continues later', async () => {
    const backup = await testBackup(VOLUME);
    await restoreSite.commit(backup, { owner: 'operator', restorers: ['restorer'] });
    await open('restorer');
    restoreSite.reachable = false;
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
    restoreSite.reachable = true;
    buttonIn(document.body, 'Continue').click();
    await completes();
    expect(statusText()).toContain(backup.secret.imageSha256);
  });

  it('keeps what was verified when the site goes away mid-restore', async () => {
    const backup = await testBackup(VOLUME);
    await restoreSite.commit(backup, { owner: 'operator', restorers: ['restorer'] });
    const { pinia } = await open('restorer');
    const volume = restoreSite.volumes.get(VOLUME)!;
    // The site loses its connection after handing out two chunks.
    const served: string[] = [];
    const blobs = new Map(volume.blobs);
    volume.blobs.clear();
    for (const [id, blob] of blobs) volume.blobs.set(id, blob);
    const originalGet = volume.blobs.get.bind(volume.blobs);
    volume.blobs.get = (id: string) => {
      served.push(id);
      if (served.length > 2) restoreSite.reachable = false;
      return originalGet(id);
    };
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('could not be reached'));
    const store = useRestoreStore(pinia);
    expect(store.active?.stage).toBe('interrupted');
    expect(store.active!.bytesWritten).toBeGreaterThan(0);
    expect(statusText()).toContain('are verified and kept');
    restoreSite.reachable = true;
    volume.blobs.get = originalGet;
    buttonIn(document.body, 'Continue').click();
    await completes();
    expect(await runtime.sha256Of(runtime.downloads[0]!.restoreId)).toBe(backup.secret.imageSha256);
  });

  it('says when the browser has no room for the image', async () => {
    await restoreSite.commit(await testBackup(VOLUME), {
      owner: 'operator',
      restorers: ['restorer'],
    });
    runtime.room = 100;
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('no room left for the restored image'));
  });

  it('says when the browser cannot write restored images', async () => {
    await restoreSite.commit(await testBackup(VOLUME), {
      owner: 'operator',
      restorers: ['restorer'],
    });
    runtime.available = false;
    await open('restorer');
    buttonIn(rowOf(VOLUME)!, 'Restore').click();
    await until(() => expect(statusText()).toContain('cannot write restored images'));
    expect(restoreSite.requests.some((r) => r.includes('key-release'))).toBe(false);
  });

  it('Cancel deletes the partial image and the key', async () => {
    installDemoEventStream();
    await restoreSite.commit(await testBackup(VOLUME), {
      owner: 'operator',
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
