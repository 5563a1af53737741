import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CHUNK_SIZE, importSigningPublicKeyJwk, verifyReceipt } from '@/core/crypto';
import { BackupDatabase } from '@/shared/storage/database';
import { closeKeyStore, wipeAllKeys } from '@/shared/storage/key-store';
import { LocalCopy } from '@/shared/storage/local-copy';
import {
  engineSite,
  inProcessRunnerDeps,
  memoryBackupRequest,
  patternBytes,
  siteVolume,
  TEST_VOLUME_ID,
  useSameRealmTextEncoder,
} from '@/testing/backup-test-support';
import { otherTestSite, type OtherTestSite } from '@/testing/other-site';
import { createConsoleI18n } from '@/app/i18n';
import type { TestSite } from '@/testing/site';
import { BackupError, isSiteUnreachable } from './backup-errors';
import { BackupRunner } from './backup-runner';
import { siteAt } from './backup-site';
import { copyToSite, isSignedOutAt, type CopyDeps, type CopyTarget } from './site-copy';

/**
 * Copies on several sites (MS-3): the generations the home site committed
 * go, from the local copy, to other sites that keep their ciphertext only,
 * each checked by that site's own receipt. Two and three real sites in
 * process, reached over "HTTP" at origins of their own.
 */

useSameRealmTextEncoder();
vi.setConfig({ testTimeout: 60_000 });

let db: BackupDatabase;
let home: TestSite;
let osaka: OtherTestSite;

async function backUp(bytes: Uint8Array<ArrayBuffer>): Promise<void> {
  await new BackupRunner(
    memoryBackupRequest(bytes, ['restorer']),
    () => undefined,
    inProcessRunnerDeps(db),
  ).run();
}

async function target(site: OtherTestSite, userId = 'operator'): Promise<CopyTarget> {
  return {
    siteId: site.site.info.siteId,
    name: site.name,
    url: site.url,
    token: await site.token(userId),
    fingerprint: site.fingerprint,
  };
}

function copyDeps(): CopyDeps {
  return {
    localCopy: new LocalCopy(db),
    site: (t) => siteAt({ url: t.url, token: t.token }),
    deviceLabel: 'test browser',
    now: () => Date.now(),
  };
}

async function held(site: OtherTestSite) {
  return siteVolume(site, TEST_VOLUME_ID);
}

beforeEach(async () => {
  db = new BackupDatabase(`site-copy-test-${crypto.randomUUID()}`);
  ({ site: home } = await engineSite());
  osaka = await otherTestSite(home, 'Osaka', 'https://osaka.example');
});

afterEach(async () => {
  db.close();
  await wipeAllKeys();
  await closeKeyStore();
});

describe('a copy on another site (MS-3)', () => {
  it('sends the committed generation as ciphertext only, with the keys left at the home site', async () => {
    await backUp(patternBytes(2 * CHUNK_SIZE + 1000));
    const copy = await copyToSite(await target(osaka), TEST_VOLUME_ID, 'operator', copyDeps());

    expect(copy).toMatchObject({ state: 'copied', generation: 1, siteName: 'Osaka' });
    const atOsaka = await held(osaka);
    const atHome = await siteVolume(home, TEST_VOLUME_ID);
    expect(atOsaka?.generations.map((g) => g.manifestHash)).toEqual(
      atHome?.generations.map((g) => g.manifestHash),
    );
    expect(atOsaka?.chunks).toHaveLength(3);
    // No key of the volume reached Osaka: it cannot decrypt what it holds (003).
    expect(atOsaka?.epochs).toEqual([]);
    const record = await osaka.site.escrow.store.records.find(TEST_VOLUME_ID);
    expect(record).toMatchObject({ keysAt: home.site.info.siteId });
    expect([...(record?.restorers ?? [])].sort()).toEqual(['operator', 'restorer']);
    // Osaka's own receipt, checked with Osaka's key, is kept with the copy.
    const statement = await verifyReceipt(
      copy.receipt,
      await importSigningPublicKeyJwk(osaka.site.info.signingKey.jwk),
    );
    expect(statement).toMatchObject({ siteId: osaka.site.info.siteId, generation: 1 });
    expect(await new LocalCopy(db).siteCopy(TEST_VOLUME_ID, osaka.site.info.siteId)).toMatchObject({
      state: 'copied',
      generation: 1,
    });
  });

  it('sends a later generation with only the chunks the site lacks', async () => {
    const first = patternBytes(3 * CHUNK_SIZE);
    await backUp(first);
    await copyToSite(await target(osaka), TEST_VOLUME_ID, 'operator', copyDeps());
    const second = first.slice();
    second[5] = (second[5] ?? 0) ^ 0xff;
    await backUp(second);
    const sent: number[] = [];
    const copy = await copyToSite(
      await target(osaka),
      TEST_VOLUME_ID,
      'operator',
      copyDeps(),
      (p) => sent.push(p.chunksSent),
    );
    expect(copy.generation).toBe(2);
    expect(sent.at(-1)).toBe(1);
    expect((await held(osaka))?.generations).toHaveLength(2);
  });

  it('catches a site up that missed generations, oldest first', async () => {
    await backUp(patternBytes(CHUNK_SIZE + 10, 1));
    await backUp(patternBytes(CHUNK_SIZE + 10, 2));
    const sapporo = await otherTestSite(home, 'Sapporo', 'https://sapporo.example');
    const copy = await copyToSite(await target(sapporo), TEST_VOLUME_ID, 'operator', copyDeps());
    expect(copy.generation).toBe(2);
    const atHome = await siteVolume(home, TEST_VOLUME_ID);
    expect((await held(sapporo))?.generations.map((g) => g.manifestHash)).toEqual(
      atHome?.generations.map((g) => g.manifestHash),
    );
  });

  it('says which generation a lagging site lacks when this browser no longer holds it', async () => {
    await backUp(patternBytes(CHUNK_SIZE + 10, 1));
    await backUp(patternBytes(CHUNK_SIZE + 10, 2));
    await new LocalCopy(db).deleteGeneration(TEST_VOLUME_ID, 1, { keepSent: true });
    const sapporo = await otherTestSite(home, 'Sapporo', 'https://sapporo.example');
    const failed = await copyToSite(
      await target(sapporo),
      TEST_VOLUME_ID,
      'operator',
      copyDeps(),
    ).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(BackupError);
    expect(failed).toMatchObject({ code: 'copy_gap', params: { site: 'Sapporo', generation: 1 } });
    const { t } = createConsoleI18n('en').global;
    expect(t('backup.errors.copy_gap', (failed as BackupError).params)).toContain(
      'Sapporo lacks generation 1 of this volume, and this browser no longer holds it',
    );
    expect((await held(sapporo))?.generations ?? []).toEqual([]);
  });

  it('stops on a site that is down, having recorded nothing, and goes on when it is back', async () => {
    await backUp(patternBytes(CHUNK_SIZE + 10));
    osaka.down(true);
    const failed = await copyToSite(
      await target(osaka),
      TEST_VOLUME_ID,
      'operator',
      copyDeps(),
    ).catch((error: unknown) => error);
    expect(isSiteUnreachable(failed)).toBe(true);
    expect(
      await new LocalCopy(db).siteCopy(TEST_VOLUME_ID, osaka.site.info.siteId),
    ).toBeUndefined();
    osaka.down(false);
    const copy = await copyToSite(await target(osaka), TEST_VOLUME_ID, 'operator', copyDeps());
    expect(copy.generation).toBe(1);
  });

  it('sends nothing to a site whose fingerprint is not the pinned one', async () => {
    await backUp(patternBytes(CHUNK_SIZE + 10));
    const impostor = { ...(await target(osaka)), fingerprint: 'ab'.repeat(32) };
    const failed = await copyToSite(impostor, TEST_VOLUME_ID, 'operator', copyDeps()).catch(
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(BackupError);
    expect((failed as BackupError).code).toBe('site_key_changed');
    expect(await held(osaka)).toBeUndefined();
  });

  it('says so when the session at the site has ended', async () => {
    await backUp(patternBytes(CHUNK_SIZE + 10));
    const ended = { ...(await target(osaka)), token: 'not-a-token-osaka-issued' };
    const failed = await copyToSite(ended, TEST_VOLUME_ID, 'operator', copyDeps()).catch(
      (error: unknown) => error,
    );
    expect(isSignedOutAt(failed)).toBe(true);
    expect(await held(osaka)).toBeUndefined();
  });
});
