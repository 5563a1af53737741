import {
  keyReleaseRequestSchema,
  scrubRequestSchema,
  type IntegrityReport,
  type KeyRelease,
  type RecordState,
  type RestorableVolume,
  type ScrubResult,
  type SiteInfo,
} from '@/core/contract';
import {
  ciphertextHash,
  exportPublicKeySpki,
  generateDeviceKeyPair,
  manifestHash,
  publicKeyFingerprint,
  restorerListHash,
  sealEnvelope,
  signReceipt,
  toBase64Url,
  toHex,
  randomBytes,
  type Receipt,
  type ReleasePolicy,
  type SignedManifest,
  type VolumeKeys,
} from '@/core/crypto';
import { demoSite } from './demo-site';

/** One generation of a demo volume, as the site stores it. */
interface DemoGeneration {
  readonly manifest: SignedManifest;
  readonly devicePublicKey: string;
  readonly receipt: Receipt;
  readonly committedAt: string;
}

interface DemoVolume {
  readonly volumeId: string;
  owner: string;
  restorers: Set<string>;
  policy: ReleasePolicy;
  state: RecordState;
  /** Extractable: the site re-wraps them to each restorer's ephemeral key. */
  keys: VolumeKeys;
  readonly generations: Map<number, DemoGeneration>;
  readonly blobs: Map<string, Uint8Array<ArrayBuffer>>;
}

interface DemoRelease {
  readonly requestId: string;
  readonly userId: string;
  readonly volumeId: string;
  readonly generation: number;
  readonly jwk: JsonWebKey;
  state: 'released' | 'pending_approval' | 'denied';
  envelope?: string;
  reason?: string;
}

/** What a backup hands the demo site: keys, manifest and blobs (see core test-support). */
export interface DemoBackup {
  readonly keys: VolumeKeys;
  readonly deviceKeyPair: CryptoKeyPair;
  readonly manifest: SignedManifest;
  readonly blobs: ReadonlyMap<string, Uint8Array<ArrayBuffer>>;
}

/** A refusal with the site's code and status. */
export class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const NO_KEY =
  'no key for this volume: it may already have been decrypted, or the medium may have been tampered with.';

/**
 * The restore side of an escrow site, in memory (RS-1..RS-9), for component
 * tests and the offline demo. It follows the site's rules: registration is
 * checked first and every refusal raises an alert; one-time records burn on
 * the first release; approvals wait for an administrator's decision, which
 * reaches the requester as a `release` event.
 */
export class DemoRestoreSite {
  volumes = new Map<string, DemoVolume>();
  releases = new Map<string, DemoRelease>();
  /** False: every restore endpoint fails as an unreachable site would (RS-8). */
  reachable = true;
  /** Requests answered, as "METHOD path", to prove what was (not) fetched. */
  readonly requests: string[] = [];
  readonly integrityReports: IntegrityReport[] = [];
  private signing: Promise<CryptoKeyPair> | undefined;
  private counter = 0;

  reset(): void {
    this.volumes.clear();
    this.releases.clear();
    this.reachable = true;
    this.requests.length = 0;
    this.integrityReports.length = 0;
    this.counter = 0;
  }

  private signingKey(): Promise<CryptoKeyPair> {
    this.signing ??= generateDeviceKeyPair();
    return this.signing;
  }

  /** The site's description with this site's receipt-signing key. */
  async siteInfo(): Promise<SiteInfo> {
    const info = await demoSite.siteInfo();
    const { publicKey } = await this.signingKey();
    const { x = '', y = '' } = await globalThis.crypto.subtle.exportKey('jwk', publicKey);
    return {
      ...info,
      signingKey: {
        jwk: { kty: 'EC', crv: 'P-256', x, y },
        fingerprint: await publicKeyFingerprint(publicKey),
      },
    };
  }

  /** Registers a backup as a committed generation of its volume. */
  async commit(
    backup: DemoBackup,
    terms: { owner: string; restorers?: readonly string[]; policy?: Partial<ReleasePolicy> },
  ): Promise<void> {
    const { volumeId, generation } = backup.manifest.index;
    let volume = this.volumes.get(volumeId);
    if (!volume) {
      volume = {
        volumeId,
        owner: terms.owner,
        restorers: new Set([terms.owner, ...(terms.restorers ?? [])]),
        policy: { kind: 'reusable', approvalRequired: false, expiresAt: null, ...terms.policy },
        state: 'active',
        keys: backup.keys,
        generations: new Map(),
        blobs: new Map(),
      };
      this.volumes.set(volumeId, volume);
    }
    volume.keys = {
      volumeId,
      chunkIdKey: volume.keys.chunkIdKey,
      dataKeys: new Map([...volume.keys.dataKeys, ...backup.keys.dataKeys]),
    };
    for (const [chunkId, blob] of backup.blobs) volume.blobs.set(chunkId, blob);
    const hash = await manifestHash(backup.manifest);
    const receipt = await signReceipt(
      {
        volumeId,
        generation,
        manifestHash: hash,
        owner: volume.owner,
        restorerListHash: await restorerListHash([...volume.restorers]),
        policy: volume.policy,
        counter: String(++this.counter),
        issuedAt: new Date().toISOString(),
        siteId: demoSite.description.siteId,
        deviceKeyFingerprint: backup.manifest.index.deviceKeyFingerprint,
        auditChainHead: toHex(randomBytes(32)),
      },
      (await this.signingKey()).privateKey,
    );
    volume.generations.set(generation, {
      manifest: backup.manifest,
      devicePublicKey: toBase64Url(await exportPublicKeySpki(backup.deviceKeyPair.publicKey)),
      receipt,
      committedAt: new Date().toISOString(),
    });
  }

  /** An administrator decides a pending release; the requester hears of it live. */
  async decide(requestId: string, approve: boolean, reason = 'decided in a test'): Promise<void> {
    const release = this.releases.get(requestId);
    if (!release || release.state !== 'pending_approval') throw new Error('nothing pending');
    if (approve) {
      const volume = this.volumes.get(release.volumeId)!;
      release.envelope = await this.rewrap(volume, release);
      release.state = 'released';
      if (volume.policy.kind === 'one-time') volume.state = 'burned';
    } else {
      release.state = 'denied';
      release.reason = reason;
    }
    demoSite.alerts.events.publish({
      type: 'release',
      requestId,
      volumeId: release.volumeId,
      state: approve ? 'released' : 'denied',
      at: new Date().toISOString(),
    });
  }

  // ---- the site's rules ----

  private mayRestore(volume: DemoVolume, userId: string): void {
    if (volume.owner === userId || volume.restorers.has(userId)) return;
    demoSite.alerts.raise({
      kind: 'unauthorized_restorer',
      userId,
      volumeId: volume.volumeId,
      sentence: `${userId} asked for volume ${volume.volumeId} without being registered as its restorer (unauthorized use).`,
    });
    throw new Refusal(
      'unauthorized_use',
      'unauthorized use: you are not registered as a restorer of this volume.',
      403,
    );
  }

  private noKey(userId: string, volumeId: string, why: string): never {
    demoSite.alerts.raise({
      kind: 'key_not_found',
      userId,
      volumeId,
      sentence: `${userId} asked for the key of ${volumeId}, but ${why} (possible reuse or tampering).`,
    });
    throw new Refusal('key_not_found', NO_KEY, 404);
  }

  private releasedTo(volumeId: string, userId: string): boolean {
    return [...this.releases.values()].some(
      (r) => r.volumeId === volumeId && r.userId === userId && r.state === 'released',
    );
  }

  private rewrap(volume: DemoVolume, release: DemoRelease): Promise<string> {
    return sealEnvelope(volume.keys, release.jwk, {
      purpose: 'release',
      generation: release.generation,
      requestId: release.requestId,
    });
  }

  restorable(userId: string): RestorableVolume[] {
    const now = new Date().toISOString();
    return [...this.volumes.values()]
      .filter((v) => v.owner === userId || v.restorers.has(userId))
      .map((v) => {
        let unavailable: RestorableVolume['unavailable'] = null;
        if (v.state === 'burned') unavailable = 'burned';
        else if (v.state === 'revoked') unavailable = 'revoked';
        else if (v.policy.expiresAt && v.policy.expiresAt <= now) unavailable = 'expired';
        else if (v.policy.kind === 'once-per-restorer' && this.releasedTo(v.volumeId, userId))
          unavailable = 'used_by_you';
        else if (
          [...this.releases.values()].some(
            (r) =>
              r.volumeId === v.volumeId && r.userId === userId && r.state === 'pending_approval',
          )
        )
          unavailable = 'awaiting_approval';
        return {
          volumeId: v.volumeId,
          owner: v.owner,
          policy: v.policy,
          state: v.state,
          unavailable,
          generations: [...v.generations.entries()].map(([generation, g]) => ({
            generation,
            manifestHash: g.receipt.statement.manifestHash,
            size: g.manifest.index.chunks.reduce((sum, c) => sum + c.length, 0),
            chunks: g.manifest.index.chunks.length,
            committedAt: g.committedAt,
          })),
        };
      });
  }

  private answer(release: DemoRelease): KeyRelease {
    const common = {
      requestId: release.requestId,
      volumeId: release.volumeId,
      generation: release.generation,
    };
    if (release.state === 'released') {
      return { state: 'released', ...common, envelope: release.envelope! };
    }
    if (release.state === 'denied') {
      return { state: 'denied', ...common, reason: release.reason ?? 'denied' };
    }
    return { state: 'pending_approval', ...common };
  }

  private replay(userId: string, release: DemoRelease, volumeId: string): KeyRelease {
    if (release.userId !== userId || release.volumeId !== volumeId) {
      throw new Refusal('release_not_found', 'There is no key release with this request ID.', 404);
    }
    return this.answer(release);
  }

  async requestRelease(userId: string, volumeId: string, body: unknown): Promise<KeyRelease> {
    const parsed = keyReleaseRequestSchema.safeParse(body);
    if (!parsed.success) throw new Refusal('invalid_request', parsed.error.message, 400);
    const { requestId, generation, ephemeralPublicKey } = parsed.data;
    const earlier = this.releases.get(requestId);
    if (earlier) return this.replay(userId, earlier, volumeId);
    const volume = this.volumes.get(volumeId);
    if (!volume) this.noKey(userId, volumeId, 'no escrow record exists for this volume ID');
    this.mayRestore(volume, userId);
    if (!volume.generations.has(generation)) {
      throw new Refusal(
        'generation_not_found',
        `Volume ${volumeId} has no generation ${generation}.`,
        404,
      );
    }
    if (volume.state === 'burned') this.noKey(userId, volumeId, 'the one-time record was used');
    if (volume.state === 'revoked') {
      throw new Refusal('record_revoked', 'An administrator revoked this escrow record.', 403);
    }
    if (volume.policy.expiresAt && volume.policy.expiresAt <= new Date().toISOString()) {
      throw new Refusal('record_expired', 'The escrow record of this volume expired.', 403);
    }
    if (volume.policy.kind === 'once-per-restorer' && this.releasedTo(volumeId, userId)) {
      this.noKey(userId, volumeId, `${userId} already received the key once`);
    }
    const release: DemoRelease = {
      requestId,
      userId,
      volumeId,
      generation,
      jwk: ephemeralPublicKey,
      state: 'pending_approval',
    };
    this.releases.set(requestId, release);
    if (volume.policy.approvalRequired) return this.answer(release);
    release.envelope = await this.rewrap(volume, release);
    release.state = 'released';
    if (volume.policy.kind === 'one-time') volume.state = 'burned';
    return this.answer(release);
  }

  fetchRelease(userId: string, volumeId: string, requestId: string): KeyRelease {
    const release = this.releases.get(requestId);
    if (!release) {
      throw new Refusal('release_not_found', 'There is no key release with this request ID.', 404);
    }
    return this.replay(userId, release, volumeId);
  }

  readable(userId: string, roles: readonly string[], volumeId: string): DemoVolume {
    const volume = this.volumes.get(volumeId);
    if (!volume) throw new Refusal('volume_not_found', `The site has no volume ${volumeId}.`, 404);
    if (!roles.includes('admin')) this.mayRestore(volume, userId);
    return volume;
  }

  async scrub(userId: string, volumeId: string, body: unknown): Promise<ScrubResult> {
    const volume = this.volumes.get(volumeId);
    if (!volume) throw new Refusal('volume_not_found', `The site has no volume ${volumeId}.`, 404);
    if (volume.owner !== userId) {
      throw new Refusal('forbidden', 'Only the owner or an administrator can scrub.', 403);
    }
    const request = scrubRequestSchema.parse(body ?? {});
    const generation = request.generation ?? Math.max(...volume.generations.keys());
    const { index } = volume.generations.get(generation)!.manifest;
    const end = Math.min(
      index.chunks.length,
      request.from + (request.count ?? index.chunks.length),
    );
    const bad: ScrubResult['bad'] = [];
    for (let i = request.from; i < end; i++) {
      const entry = index.chunks[i]!;
      const blob = volume.blobs.get(entry.chunkId);
      if (!blob) bad.push({ index: i, chunkId: entry.chunkId, problem: 'missing' });
      else if ((await ciphertextHash(blob)) !== entry.ciphertextSha256)
        bad.push({ index: i, chunkId: entry.chunkId, problem: 'hash_mismatch' });
    }
    return {
      volumeId,
      generation,
      total: index.chunks.length,
      from: request.from,
      checked: end - request.from,
      bad,
    };
  }
}

export const restoreSite = new DemoRestoreSite();
