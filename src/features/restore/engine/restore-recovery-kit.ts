/**
 * RS-10: a volume's recovery kit — what someone needs, years later and
 * perhaps on another computer, to find and trust the backup again: the
 * site's identity and key fingerprints, and per generation the site-signed
 * receipt (manifest hash, owner, restorer list hash, policy, audit chain
 * head). It holds no key. Exported as JSON and as a printable page whose QR
 * code carries the essentials.
 */

import { fetchGenerationManifest } from '@/shared/api/volumes';
import type { SiteInfo } from '@/core/contract';
import {
  importSigningPublicKeyJwk,
  parseReceipt,
  publicKeyFingerprint,
  verifyReceipt,
  type EscrowSites,
  type Receipt,
  type ReleasePolicy,
} from '@/core/crypto';
import type { RestorableRow } from './restore-catalog';
import { localReceipts } from './restore-local-copies';

export const RECOVERY_KIT_TYPE = 'custodian-recovery-kit';

export interface RecoveryKitGeneration {
  readonly generation: number;
  readonly manifestHash: string;
  readonly size: number;
  readonly chunks: number;
  readonly committedAt: string | null;
  readonly receipt: Receipt;
  /** The receipt's signature verified against the site's signing key, and its content matched. */
  readonly receiptVerified: boolean;
}

export interface RecoveryKit {
  readonly type: typeof RECOVERY_KIT_TYPE;
  readonly format: 1;
  readonly createdAt: string;
  readonly volumeId: string;
  readonly owner: string | null;
  readonly policy: ReleasePolicy | null;
  readonly site: {
    readonly siteId: string;
    readonly name: string;
    readonly escrowKeyFingerprint: string;
    readonly signingKeyFingerprint: string;
  };
  /**
   * MS-4: the sites that keep shares of the keys and how many are needed,
   * as the newest generation's signed index names them; absent when the
   * site above keeps the whole keys.
   */
  readonly keySites?: {
    readonly threshold: number;
    readonly sites: readonly {
      readonly siteId: string;
      readonly name: string;
      readonly fingerprint: string;
    }[];
  };
  readonly generations: readonly RecoveryKitGeneration[];
  /** Generations whose receipt could not be had (neither from the site nor this browser). */
  readonly missing: readonly number[];
}

/** Newest generations carried in the QR code; the JSON file carries all. */
export const QR_GENERATIONS = 8;

async function siteVerifier(site: SiteInfo): Promise<CryptoKey | undefined> {
  const key = await importSigningPublicKeyJwk(site.signingKey.jwk);
  // The fingerprint printed on the kit must be the key's own.
  return (await publicKeyFingerprint(key)) === site.signingKey.fingerprint ? key : undefined;
}

/** Gathers the kit of a volume: receipts from the site (and this browser's own), each verified. */
export async function buildRecoveryKit(
  row: RestorableRow,
  site: SiteInfo,
  siteNames: Readonly<Record<string, string>> = {},
): Promise<RecoveryKit> {
  const key = await siteVerifier(site);
  let stored = new Map<number, Receipt>();
  try {
    stored = await localReceipts(row.volumeId);
  } catch {
    // No local copy database in this browser.
  }
  const generations: RecoveryKitGeneration[] = [];
  const missing: number[] = [];
  let escrow: EscrowSites | undefined;
  for (const g of row.generations) {
    let receipt: Receipt | undefined;
    if (g.onSite) {
      try {
        const answer = await fetchGenerationManifest(row.volumeId, g.generation);
        receipt = answer.receipt;
        escrow = answer.manifest.index.escrow;
      } catch {
        receipt = undefined;
      }
    }
    receipt ??= stored.get(g.generation);
    if (!receipt) {
      missing.push(g.generation);
      continue;
    }
    let receiptVerified = false;
    if (key) {
      receiptVerified = await verifyReceipt(receipt, key, {
        volumeId: row.volumeId,
        generation: g.generation,
        siteId: site.siteId,
      }).then(
        () => true,
        () => false,
      );
    }
    generations.push({
      generation: g.generation,
      manifestHash: receipt.statement.manifestHash,
      size: g.size,
      chunks: g.chunks,
      committedAt: g.committedAt,
      receipt,
      receiptVerified,
    });
  }
  return {
    type: RECOVERY_KIT_TYPE,
    format: 1,
    createdAt: new Date().toISOString(),
    volumeId: row.volumeId,
    owner: row.owner,
    policy: row.policy,
    site: {
      siteId: site.siteId,
      name: site.name,
      escrowKeyFingerprint: site.escrowKey.fingerprint,
      signingKeyFingerprint: site.signingKey.fingerprint,
    },
    ...(escrow
      ? {
          keySites: {
            threshold: escrow.threshold,
            sites: escrow.sites.map((s) => ({
              siteId: s.siteId,
              name: s.siteId === site.siteId ? site.name : (siteNames[s.siteId] ?? s.siteId),
              fingerprint: s.fingerprint,
            })),
          },
        }
      : {}),
    generations,
    missing,
  };
}

/** The kit file's content (pretty JSON, readable on paper and by the console's "Open receipt file"). */
export function recoveryKitJson(kit: RecoveryKit): string {
  return `${JSON.stringify(kit, null, 2)}\n`;
}

/**
 * What the QR code carries: the volume, the site and its fingerprints, and
 * the newest generations' manifest hashes with their receipt counters —
 * enough to find the backup and to check a receipt file against the paper.
 */
export function recoveryKitQrText(kit: RecoveryKit): string {
  return JSON.stringify({
    t: RECOVERY_KIT_TYPE,
    v: kit.volumeId,
    s: kit.site.siteId,
    ek: kit.site.escrowKeyFingerprint,
    sk: kit.site.signingKeyFingerprint,
    ...(kit.keySites
      ? { k: kit.keySites.threshold, ks: kit.keySites.sites.map((s) => [s.siteId, s.fingerprint]) }
      : {}),
    g: kit.generations
      .slice(-QR_GENERATIONS)
      .map((g) => [g.generation, g.manifestHash, g.receipt.statement.counter]),
  });
}

/** A file name for the kit: the volume ID with anything unsafe in file names replaced. */
export function recoveryKitFileName(kit: RecoveryKit): string {
  return `recovery-kit-${kit.volumeId.replace(/[^A-Za-z0-9._-]+/g, '_')}.json`;
}

/** RS-1: the receipt in a receipt file, a {receipt} wrapper, or a recovery kit's latest one. */
export function receiptIn(text: string): Receipt {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return parseReceipt(text);
  }
  if (value && typeof value === 'object') {
    const object = value as { receipt?: unknown; generations?: { receipt?: unknown }[] };
    if (object.receipt) return parseReceipt(object.receipt);
    const kit = object.generations?.filter((g) => g.receipt).at(-1);
    if (kit) return parseReceipt(kit.receipt);
  }
  return parseReceipt(value);
}
