/**
 * A volume's copy on another site (MS-3, seed 003's safe box): the
 * generations this browser backed up and the home site committed are sent,
 * from the local copy, to a site that keeps their ciphertext only. The image
 * is never encrypted again: the same chunks, the same signed manifest. The
 * commit names the home site as the keeper of the keys (`keysAt`), so no
 * epoch key goes to the copy's site and it can never decrypt what it holds;
 * it authorizes chunk reads against its own escrow record. A site that lags
 * gets every generation it lacks, in order, each one checked by that site's
 * own signed receipt. No Vue here: the copies store drives it.
 */

import { ApiError } from '@/shared/api/request';
import {
  canonicalJson,
  restorerListHash,
  sha256Hex,
  siteFingerprints,
  utf8,
  verifyReceipt,
  type JsonValue,
  type Receipt,
} from '@/core/crypto';
import type { Claim, CommitPayload } from '@/core/contract';
import { encodeTransfer } from '@/core/transfer/frame';
import type { GenerationRecord, SiteCopyRecord } from '@/shared/storage/database';
import { getDeviceKey } from '@/shared/storage/key-store';
import type { LocalCopy } from '@/shared/storage/local-copy';
import { BackupError } from './backup-errors';
import { checkSiteKeys, registerDeviceKey } from './backup-keys';
import type { BackupSite } from './backup-site';
import { nextSeqAfter } from './backup-stream';

/** Another site a copy goes to, as this console is signed in there (MS-1, MS-2). */
export interface CopyTarget {
  readonly siteId: string;
  readonly name: string;
  readonly url: string;
  /** The bearer token the site issued to this console. */
  readonly token: string;
  /** The site fingerprint this console's own site pinned. */
  readonly fingerprint: string;
}

export interface CopyDeps {
  readonly localCopy: LocalCopy;
  /** How the target is reached: the real API, or a test's site. */
  readonly site: (target: CopyTarget) => BackupSite;
  /** Label the device key is registered under at the target (ID-6). */
  readonly deviceLabel: string;
  readonly now: () => number;
}

/** How far a copy has come, for the screen. */
export interface CopyProgress {
  readonly generation: number;
  readonly chunksSent: number;
  readonly chunksSkipped: number;
}

/** A commit the site buffered is asked about again this often before the copy gives up for now. */
const COMMIT_ATTEMPTS = 3;

/**
 * Brings `target` up to the newest generation of `volumeId` this browser
 * holds complete, and records each generation it confirms. Resolves with
 * the copy as it stands; throws what stopped it (the caller records why).
 */
export async function copyToSite(
  target: CopyTarget,
  volumeId: string,
  userId: string,
  deps: CopyDeps,
  onProgress: (progress: CopyProgress) => void = () => undefined,
): Promise<SiteCopyRecord> {
  const { localCopy } = deps;
  const generations = (await localCopy.generationsOf(userId))
    .filter((g) => g.volumeId === volumeId && g.state === 'complete' && g.manifest)
    .sort((a, b) => a.generation - b.generation);
  const site = deps.site(target);
  const signingKey = await checkTarget(site, target, localCopy);
  const device = await getDeviceKey(userId);
  if (!device) {
    throw new BackupError('chunk_id_key_missing', "This volume's keys are not on this device.", {
      volumeId,
    });
  }
  await registerDeviceKey(site, device, deps.deviceLabel);

  let copy: SiteCopyRecord = (await localCopy.siteCopy(volumeId, target.siteId)) ?? {
    volumeId,
    siteId: target.siteId,
    userId,
    siteName: target.name,
    generation: 0,
    state: 'copying',
    updatedAt: new Date(deps.now()).toISOString(),
  };
  for (;;) {
    const claim = await site.claim(volumeId, false);
    const newest = generations.at(-1)?.generation ?? 0;
    if (claim.nextGeneration > newest) {
      await site.releaseClaim(volumeId).catch(() => undefined);
      copy = { ...copy, generation: Math.max(copy.generation, claim.nextGeneration - 1) };
      break;
    }
    const record = generations.find((g) => g.generation === claim.nextGeneration);
    if (!record) {
      await site.releaseClaim(volumeId).catch(() => undefined);
      throw new BackupError('copy_gap', 'A generation the site lacks is not in this browser.', {
        site: target.name,
        generation: claim.nextGeneration,
      });
    }
    const receipt = await sendGeneration(site, target, claim, record, localCopy, onProgress);
    await checkReceipt(receipt, signingKey, record, target, device.fingerprint);
    await localCopy.dropEscrowEnvelopes(volumeId, target.siteId, record.generation);
    copy = {
      ...copy,
      generation: record.generation,
      receipt,
      state: 'copying',
      problem: undefined,
      updatedAt: new Date(deps.now()).toISOString(),
    };
    await localCopy.putSiteCopy(copy);
  }
  copy = {
    ...copy,
    siteName: target.name,
    state: 'copied',
    problem: undefined,
    updatedAt: new Date(deps.now()).toISOString(),
  };
  await localCopy.putSiteCopy(copy);
  return copy;
}

/**
 * The site must be the one its administrator pinned (MS-1): the same ID and
 * fingerprint, keys that match their own fingerprints. Returns the key its
 * receipts are checked with.
 */
async function checkTarget(
  site: BackupSite,
  target: CopyTarget,
  localCopy: LocalCopy,
): Promise<CryptoKey> {
  const info = await site.siteInfo();
  const presented = await siteFingerprints(info);
  if (info.siteId !== target.siteId || presented.site !== target.fingerprint) {
    throw new BackupError('site_key_changed', 'The site is not the one that was pinned.', {
      site: target.name,
      pinned: target.fingerprint.slice(0, 16),
      offered: presented.site.slice(0, 16),
    });
  }
  return checkSiteKeys(info, localCopy.db);
}

/** One generation's chunks the site lacks, then its commit; the site's receipt. */
async function sendGeneration(
  site: BackupSite,
  target: CopyTarget,
  claim: Claim,
  record: GenerationRecord,
  localCopy: LocalCopy,
  onProgress: (progress: CopyProgress) => void,
): Promise<Receipt> {
  const { volumeId, generation } = record;
  let seq = nextSeqAfter(claim);
  const send = async (body: Uint8Array<ArrayBuffer>) =>
    site.putTransfer(claim.pairId, seq++, body, await sha256Hex(body));

  // MS-4: a site that keeps a share is sent the envelopes sealed to it for this generation's epochs.
  const keepsShare = record.escrow?.sites.some((s) => s.siteId === target.siteId) ?? false;
  if (keepsShare) {
    for (const kept of await localCopy.escrowEnvelopesFor(volumeId, target.siteId)) {
      if (kept.generation > generation || claim.epochs.includes(kept.epoch)) continue;
      await send(
        encodeTransfer(
          { kind: 'epoch-key', volumeId, epoch: kept.epoch },
          utf8(kept.envelope),
          record.chunkSize,
        ),
      );
    }
  }

  const progress = { generation, chunksSent: 0, chunksSkipped: 0 };
  const seen = new Set<string>();
  for (const entry of await localCopy.index(volumeId, generation)) {
    if (seen.has(entry.chunkId)) continue;
    seen.add(entry.chunkId);
    const held = await site.headChunk(volumeId, entry.chunkId);
    if (held.present && held.ciphertextSha256 === entry.ciphertextSha256) {
      progress.chunksSkipped++;
    } else {
      const blob = await localCopy.chunkBlob(volumeId, entry.chunkId);
      if (!blob) {
        throw new BackupError('copy_gap', 'A chunk the site lacks is not in this browser.', {
          site: target.name,
          generation,
        });
      }
      await send(
        encodeTransfer({ kind: 'chunk', volumeId, chunkId: entry.chunkId }, blob, record.chunkSize),
      );
      progress.chunksSent++;
    }
    onProgress({ ...progress });
  }

  const payload: CommitPayload = {
    manifest: record.manifest!,
    restorers: [...record.restorers],
    policy: record.policy,
    // Without a share the keys stay with the home site: this site keeps ciphertext only (003).
    ...(keepsShare ? {} : { keysAt: record.siteId }),
  };
  const commit = encodeTransfer(
    { kind: 'commit', volumeId },
    canonicalJson(payload as unknown as JsonValue),
    record.chunkSize,
  );
  const commitSeq = seq;
  const bodySha256 = await sha256Hex(commit);
  for (let attempt = 1; attempt <= COMMIT_ATTEMPTS; attempt++) {
    const answer = await site.putTransfer(claim.pairId, commitSeq, commit, bodySha256);
    if (answer.receipt) return answer.receipt;
  }
  throw new BackupError('commit_stuck', 'The site did not register the copied generation.', {});
}

async function checkReceipt(
  receipt: Receipt,
  signingKey: CryptoKey,
  record: GenerationRecord,
  target: CopyTarget,
  deviceKeyFingerprint: string,
): Promise<void> {
  try {
    await verifyReceipt(receipt, signingKey, {
      volumeId: record.volumeId,
      generation: record.generation,
      manifestHash: record.manifestHash!,
      owner: record.userId,
      restorerListHash: await restorerListHash(record.restorers),
      // The policy is not compared: that site's administrators may have tightened it there.
      siteId: target.siteId,
      deviceKeyFingerprint,
    });
  } catch (error) {
    throw new BackupError(
      'receipt_invalid',
      'The site confirmed the copy with a receipt that does not check out.',
      { message: error instanceof Error ? error.message : String(error) },
      { cause: error },
    );
  }
}

/** Whether an error means "signed out at that site": sign in there again, then it goes on. */
export function isSignedOutAt(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401;
}
