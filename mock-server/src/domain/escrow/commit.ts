import { commitPayloadSchema, type CommitPayload } from '../../../../src/core/contract';
import { fromBase64Url } from '../../../../src/core/crypto/bytes';
import { parseJsonBytes, type JsonValue } from '../../../../src/core/crypto/canonical-json';
import type { ReleasePolicy } from '../../../../src/core/crypto/release-policy';
import { importSigningPublicKeySpki } from '../../../../src/core/crypto/device-key';
import { CustodianCryptoError } from '../../../../src/core/crypto/errors';
import {
  indexedSize,
  manifestEpochs,
  manifestHash,
  serializeManifest,
  verifyManifestSignature,
} from '../../../../src/core/crypto/manifest';
import type { ManifestIndex } from '../../../../src/core/crypto/manifest-schema';
import { fromUtf8 } from '../../../../src/core/crypto/bytes';
import { restorerListHash, signReceipt, type Receipt } from '../../../../src/core/crypto/receipt';
import type { ErrorCode } from '../../../../src/core/contract';
import { DomainError } from '../errors';
import { nowIso, type EscrowDeps } from './context';
import { holdPoint } from './hold-points';
import type { EscrowTransaction, GenerationRow, VolumeRow } from './ports';
import { pastCeiling, type VolumeService } from './volumes';

const MAX_LISTED = 50;

const STRICTNESS: Record<ReleasePolicy['kind'], number> = {
  reusable: 0,
  'once-per-restorer': 1,
  'one-time': 2,
};

type PolicyField = keyof ReleasePolicy;

/** Whether `asked` would release more than `stored` does, for one field. */
function loosens(field: PolicyField, stored: ReleasePolicy, asked: ReleasePolicy): boolean {
  if (field === 'kind') return STRICTNESS[asked.kind] < STRICTNESS[stored.kind];
  if (field === 'approvalRequired') return stored.approvalRequired && !asked.approvalRequired;
  return (
    stored.expiresAt !== null && (asked.expiresAt === null || asked.expiresAt > stored.expiresAt)
  );
}

/**
 * The policy an owner's commit leaves on the record (docs/REQUIREMENTS.md, "What an owner's commit may change"):
 * the owner decides the fields they set with their last commit; a field
 * someone else set since (an administrator, with a reason) is only tightened
 * by the owner, never loosened, and the stricter value is kept and named.
 */
export function policyAfterCommit(
  stored: ReleasePolicy | undefined,
  ownersLast: ReleasePolicy | undefined,
  asked: ReleasePolicy,
  /** The latest expiry an administrator set: an owner's later one (or none) is not taken. */
  expiryCeiling?: string | null,
): {
  policy: ReleasePolicy;
  changed: { field: PolicyField; from: JsonValue; to: JsonValue }[];
  kept: { field: PolicyField; value: JsonValue; asked: JsonValue }[];
} {
  if (!stored) return { policy: asked, changed: [], kept: [] };
  const fields: PolicyField[] = ['kind', 'approvalRequired', 'expiresAt'];
  const policy = { ...asked } as Record<PolicyField, unknown>;
  const kept: { field: PolicyField; value: JsonValue; asked: JsonValue }[] = [];
  for (const field of fields) {
    const setByOther =
      !ownersLast ||
      ownersLast[field] !== stored[field] ||
      (field === 'expiresAt' && pastCeiling(asked.expiresAt, expiryCeiling));
    if (setByOther && loosens(field, stored, asked)) {
      policy[field] = stored[field];
      kept.push({ field, value: stored[field], asked: asked[field] });
    }
  }
  const effective = policy as ReleasePolicy;
  const changed = fields
    .filter((f) => effective[f] !== stored[f])
    .map((field) => ({ field, from: stored[field], to: effective[field] }));
  return { policy: effective, changed, kept };
}

function refuse(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new DomainError(code, message, 409, details);
}

/**
 * Checks a commit transfer (BK-8, BK-10): the signed manifest against the
 * owner's device keys, the previous generation, the stored chunks and the
 * escrowed epochs. Returns the writes that register the generation and its
 * escrow record and sign a receipt naming the audit chain's head: the caller
 * runs them in the transaction that also settles the transfer, so the
 * generation, its record, its audit entry and the transfer's outcome are
 * stored together or not at all.
 */
export async function checkCommit(
  deps: EscrowDeps,
  volumes: VolumeService,
  volume: VolumeRow,
  payloadBytes: Uint8Array,
): Promise<(tx: EscrowTransaction) => Promise<Receipt>> {
  const payload = parseCommit(payloadBytes, volume);
  const { manifest } = payload;
  const hash = await manifestHash(manifest);
  const latest = await deps.store.generations.latest(volume.volumeId);
  if (latest && latest.manifestHash === hash) {
    // The same commit again (a retry after a crash): answer as before.
    const receipt = JSON.parse(latest.receipt) as Receipt;
    return async () => receipt;
  }

  await checkSigner(deps, volume, manifest);
  checkFollows(manifest.index, latest);
  await checkChunksStored(deps, volume, manifest.index);
  const keysAt = await keyHolder(deps, payload);
  if (keysAt === null) await checkEpochsEscrowed(deps, volume, manifest);

  const record = await deps.store.records.find(volume.volumeId);
  if (record?.state === 'revoked') {
    refuse(
      'record_revoked',
      'An administrator revoked the escrow record of this volume; no new generation can be registered.',
    );
  }
  const now = nowIso(deps);
  if (payload.policy.expiresAt && payload.policy.expiresAt <= now) {
    refuse('expired_policy', 'The chosen expiry date has already passed.');
  }
  await volumes.assertUsersExist(payload.restorers);
  // A record registered by hand before the first backup keeps the restorers it named.
  const kept = latest ? [] : (record?.restorers ?? []);
  const restorers = [...new Set([...payload.restorers, ...kept, volume.owner])].sort();
  const ownersLast = latest && (JSON.parse(latest.receipt) as Receipt).statement.policy;
  const decided = policyAfterCommit(
    record?.policy,
    ownersLast,
    payload.policy,
    record?.expiryCeiling,
  );

  return async (tx) => {
    await tx.store.records.upsert({
      volumeId: volume.volumeId,
      owner: volume.owner,
      restorers,
      policy: decided.policy,
      state: record?.state ?? 'active',
      createdAt: record?.createdAt ?? now,
      updatedAt: now,
      keysAt,
    });
    await tx.store.volumes.update(volume.volumeId, { state: 'registered', claimExpiresAt: null });
    return registerGeneration(deps, tx, volume, { manifest, hash, restorers, decided, now });
  };
}

/** The commit's JSON, whose manifest must be for this volume. */
function parseCommit(payloadBytes: Uint8Array, volume: VolumeRow): CommitPayload {
  let payload: CommitPayload;
  try {
    const parsed = commitPayloadSchema.safeParse(parseJsonBytes(payloadBytes));
    if (!parsed.success) {
      refuse(
        'invalid_commit',
        `The commit is not valid: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}.`,
      );
    }
    payload = parsed.data;
  } catch (error) {
    if (error instanceof DomainError) throw error;
    refuse('invalid_commit', 'The commit is not JSON.');
  }
  const { volumeId } = payload.manifest.index;
  if (volumeId !== volume.volumeId) {
    refuse('invalid_commit', `The manifest is for volume ${volumeId}, not ${volume.volumeId}.`);
  }
  return payload;
}

/** ID-6: the manifest is signed by a device key registered to the owner. */
async function checkSigner(
  deps: EscrowDeps,
  volume: VolumeRow,
  manifest: CommitPayload['manifest'],
): Promise<void> {
  const device = await deps.store.devices.find(manifest.index.deviceKeyFingerprint);
  if (!device || device.userId !== volume.owner) {
    refuse(
      'unknown_device_key',
      'The manifest is signed by a device key that is not registered to the owner of this volume.',
    );
  }
  try {
    await verifyManifestSignature(
      manifest,
      await importSigningPublicKeySpki(fromBase64Url(device.spki)),
    );
  } catch (error) {
    if (error instanceof CustodianCryptoError)
      refuse('bad_signature', `The manifest's signature does not hold: ${error.message}`);
    throw error;
  }
}

/** The generation is the next one, chained to the latest (BK-10). */
function checkFollows(index: ManifestIndex, latest: GenerationRow | undefined): void {
  const expected = (latest?.generation ?? 0) + 1;
  if (
    index.generation !== expected ||
    index.previousManifestHash !== (latest?.manifestHash ?? null)
  ) {
    refuse(
      'wrong_generation',
      `The manifest is generation ${index.generation} after ${index.previousManifestHash ?? 'nothing'}, but the site expects generation ${expected} after ${latest?.manifestHash ?? 'nothing'}.`,
      { expectedGeneration: expected, previousManifestHash: latest?.manifestHash ?? null },
    );
  }
}

/** Every chunk the index lists is at the site, with the ciphertext it lists. */
async function checkChunksStored(
  deps: EscrowDeps,
  volume: VolumeRow,
  index: ManifestIndex,
): Promise<void> {
  const stored = new Map((await deps.store.chunks.of(volume.volumeId)).map((c) => [c.chunkId, c]));
  const missing: number[] = [];
  const mismatched: number[] = [];
  index.chunks.forEach((entry, i) => {
    const chunk = stored.get(entry.chunkId);
    if (!chunk) missing.push(i);
    else if (chunk.ciphertextSha256 !== entry.ciphertextSha256) mismatched.push(i);
  });
  if (missing.length || mismatched.length) {
    const listed = (positions: number[]) =>
      positions.slice(0, MAX_LISTED).map((i) => ({ index: i, chunkId: index.chunks[i]!.chunkId }));
    refuse(
      'chunks_missing',
      `The site cannot commit this generation: ${missing.length} chunk(s) missing, ${mismatched.length} with another ciphertext than the manifest lists.`,
      { missing: listed(missing), mismatched: listed(mismatched) },
    );
  }
}

/**
 * MS-3: the site that keeps this volume's keys, or null for this one. A
 * copy names another site, which this site must trust; its epochs then
 * have no key here, and this site can never decrypt what it keeps.
 */
async function keyHolder(deps: EscrowDeps, payload: CommitPayload): Promise<string | null> {
  const escrow = payload.manifest.index.escrow;
  if (escrow) {
    // MS-4: the keys are split across the sites the signed manifest names; this is one of them.
    if (!escrow.sites.some((s) => s.siteId === deps.siteId) || payload.keysAt !== undefined) {
      refuse(
        'key_site_not_trusted',
        'The manifest does not name this site among the sites that keep the keys of this volume.',
        { sites: escrow.sites.map((s) => s.siteId).join(', ') },
      );
    }
    for (const { siteId } of escrow.sites) {
      if (siteId !== deps.siteId && (await deps.trustedSiteName(siteId)) === undefined) {
        refuse(
          'key_site_not_trusted',
          `This site does not trust the site ${siteId} that the manifest names as keeping a share of the keys.`,
          { keysAt: siteId },
        );
      }
    }
    return null;
  }
  if (payload.keysAt === undefined || payload.keysAt === deps.siteId) return null;
  if ((await deps.trustedSiteName(payload.keysAt)) === undefined) {
    refuse(
      'key_site_not_trusted',
      `This site does not trust the site ${payload.keysAt} named as the keeper of the keys, so it will not keep this copy.`,
      { keysAt: payload.keysAt },
    );
  }
  return payload.keysAt;
}

/** The site holds an escrowed key for every epoch the manifest uses. */
async function checkEpochsEscrowed(
  deps: EscrowDeps,
  volume: VolumeRow,
  manifest: CommitPayload['manifest'],
): Promise<void> {
  const escrowed = new Set((await deps.store.envelopes.of(volume.volumeId)).map((e) => e.epoch));
  const unescrowed = manifestEpochs(manifest).filter((epoch) => !escrowed.has(epoch));
  if (unescrowed.length) {
    refuse(
      'keys_missing',
      `The site holds no escrowed key for epoch(s) ${unescrowed.join(', ')}; announce them first.`,
      { epochs: unescrowed },
    );
  }
}

/**
 * Inside the commit's transaction: the audit entry, then the receipt that
 * names it as the chain's head, then the generation with that receipt.
 */
async function registerGeneration(
  deps: EscrowDeps,
  tx: EscrowTransaction,
  volume: VolumeRow,
  commit: {
    readonly manifest: CommitPayload['manifest'];
    readonly hash: string;
    readonly restorers: readonly string[];
    readonly decided: ReturnType<typeof policyAfterCommit>;
    readonly now: string;
  },
): Promise<Receipt> {
  const { manifest, hash, restorers, decided, now } = commit;
  const { index } = manifest;
  const entry = await deps.audit.append(
    {
      event: 'generation_committed',
      actor: volume.owner,
      volumeId: volume.volumeId,
      details: {
        generation: index.generation,
        manifestHash: hash,
        chunks: index.chunks.length,
        restorers,
        policy: decided.policy.kind,
        // Every policy field this commit changed, old and new, and each one
        // kept because the owner's value would loosen someone else's decision.
        policyChanges: decided.changed,
        policyKept: decided.kept,
      },
    },
    tx,
  );
  await holdPoint('generation-audited');
  const receipt = await signReceipt(
    {
      volumeId: volume.volumeId,
      generation: index.generation,
      manifestHash: hash,
      owner: volume.owner,
      restorerListHash: await restorerListHash(restorers),
      policy: decided.policy,
      counter: await tx.store.generations.nextReceiptCounter(),
      issuedAt: now,
      siteId: deps.siteId,
      deviceKeyFingerprint: index.deviceKeyFingerprint,
      auditChainHead: entry.mac,
    },
    deps.keys.signing.privateKey,
  );
  await tx.store.generations.insert({
    volumeId: volume.volumeId,
    generation: index.generation,
    manifest: fromUtf8(serializeManifest(manifest)),
    manifestHash: hash,
    size: indexedSize(index),
    chunks: index.chunks.length,
    deviceFingerprint: index.deviceKeyFingerprint,
    receipt: JSON.stringify(receipt),
    committedAt: now,
  });
  return receipt;
}
