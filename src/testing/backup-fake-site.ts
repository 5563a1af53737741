/**
 * An in-memory escrow site for the backup's tests: it speaks the protocol of
 * the real one (claims, the ordered transfer stream with buffering, commits
 * checked against stored chunks and escrowed epochs, signed receipts) with
 * the same rules where they matter to a client — the first blob stored for
 * a chunk ID wins, a refused transfer still advances the stream, a released
 * claim of a new volume forgets its chunks. It can be used directly as a
 * BackupSite or served through MSW handlers for component tests, and it can
 * be switched off to play an unreachable site.
 */

import { http, HttpResponse, type HttpHandler } from 'msw';
import { ApiError } from '@/shared/api/request';
import type { StoredChunk, TransferReceived } from '@/shared/api/transfers';
import {
  apiRoutes,
  BODY_SHA256_HEADER,
  CHUNK_EPOCH_HEADER,
  CIPHERTEXT_SHA256_HEADER,
  commitPayloadSchema,
  SITE_DEFAULT_ROTATION,
  type Claim,
  type DeviceKey,
  type EscrowRecord,
  type GenerationManifest,
  type RegisterDeviceRequest,
  type SiteInfo,
  type SitePublicKey,
  type VolumeOwner,
} from '@/core/contract';
import {
  checkEnvelope,
  ciphertextHash,
  fromUtf8,
  generateEnvelopeKeyPair,
  manifestEpochs,
  manifestHash,
  openRegistrationFile,
  parseChunkBlobHeader,
  parseJsonBytes,
  publicKeyFingerprint,
  restorerListHash,
  sha256Hex,
  signReceipt,
  verifyManifestSignature,
  CHUNK_SIZE,
  type Receipt,
  type SignedManifest,
} from '@/core/crypto';
import { decodeTransfer } from '@/core/transfer/frame';
import type { RotationPolicy } from '@/core/transfer/rotation';

interface StoredTransfer {
  readonly seq: number;
  readonly sha: string;
  readonly body: Uint8Array;
  state: 'received' | 'applied' | 'refused';
  outcome?: { receipt?: Receipt; refusal?: ApiError };
}

interface FakeVolume {
  volumeId: string;
  owner: string;
  state: 'claimed' | 'registered';
  claimed: boolean;
  chunks: Map<string, { blob: Uint8Array; hash: string; epoch: number }>;
  envelopes: Map<number, string>;
  generations: { manifest: SignedManifest; hash: string; receipt: Receipt; restorers: string[] }[];
}

interface FakePair {
  readonly pairId: string;
  readonly volumeId: string;
  seqApplied: number;
  transfers: Map<number, StoredTransfer>;
}

export interface FakeSiteCounters {
  claims: number;
  heads: number;
  puts: number;
  chunkTransfers: number;
  epochKeyTransfers: number;
  commits: number;
}

async function describeKey(publicKey: CryptoKey): Promise<SitePublicKey> {
  const jwk = await crypto.subtle.exportKey('jwk', publicKey);
  return {
    jwk: { kty: 'EC', crv: 'P-256', x: jwk.x ?? '', y: jwk.y ?? '' },
    fingerprint: await publicKeyFingerprint(publicKey),
  };
}

const refuse = (code: string, message: string, status: number): ApiError =>
  new ApiError(code, message, status);

export class FakeEscrowSite {
  /** The signed-in user (the session cookie of the real site). */
  user = 'operator';
  /** False plays a site that cannot be reached. */
  online = true;
  readonly counters: FakeSiteCounters = {
    claims: 0,
    heads: 0,
    puts: 0,
    chunkTransfers: 0,
    epochKeyTransfers: 0,
    commits: 0,
  };
  readonly alerts: { kind: string; userId: string; volumeId: string }[] = [];
  readonly volumes = new Map<string, FakeVolume>();
  readonly pairs = new Map<string, FakePair>();
  readonly devices = new Map<string, { userId: string; key: CryptoKey }>();
  #applying: Promise<unknown> = Promise.resolve();
  /** Holds the next commit back this long, answering "buffered" meanwhile (a gap before it). */
  holdCommitMs = 0;
  /** Seen by PUT before it answers; a test can throw here to lose an answer. */
  onTransfer: ((seq: number) => void) | undefined;
  /** The pairs' key rotation in the claim answer (RC-4); undefined plays an older site. */
  rotation: RotationPolicy | undefined = SITE_DEFAULT_ROTATION;

  private constructor(
    readonly chunkSize: number,
    private readonly escrow: CryptoKeyPair,
    private readonly signing: CryptoKeyPair,
    private readonly info: SiteInfo,
  ) {}

  static async create(options: { chunkSize?: number; siteId?: string } = {}) {
    const escrow = await generateEnvelopeKeyPair();
    const signing = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ]);
    const info: SiteInfo = {
      siteId: options.siteId ?? 'fake-site-0001',
      name: 'Test site',
      version: '0.1.0',
      demo: true,
      escrowKey: await describeKey(escrow.publicKey),
      signingKey: await describeKey(signing.publicKey),
    };
    return new FakeEscrowSite(options.chunkSize ?? CHUNK_SIZE, escrow, signing, info);
  }

  #reach(): void {
    if (!this.online) throw new ApiError('network_error', 'The site could not be reached.', 0);
  }

  async siteInfo(): Promise<SiteInfo> {
    this.#reach();
    return this.info;
  }

  /** A copy of the site's description with other keys (a site whose keys changed). */
  replaceInfo(changes: Partial<SiteInfo>): void {
    Object.assign(this.info, changes);
  }

  async registerDevice(body: RegisterDeviceRequest): Promise<DeviceKey> {
    this.#reach();
    const key = await crypto.subtle.importKey(
      'jwk',
      body.publicKey,
      { name: 'ECDSA', namedCurve: 'P-256' },
      true,
      ['verify'],
    );
    const fingerprint = await publicKeyFingerprint(key);
    this.devices.set(fingerprint, { userId: this.user, key });
    return {
      fingerprint,
      userId: this.user,
      label: body.label ?? null,
      registeredAt: new Date().toISOString(),
    };
  }

  async volumeOwner(volumeId: string): Promise<VolumeOwner> {
    this.#reach();
    const volume = this.volumes.get(volumeId);
    if (!volume) return { volumeId, state: 'unregistered', owner: null, mine: false };
    return { volumeId, state: volume.state, owner: volume.owner, mine: volume.owner === this.user };
  }

  #assertOwner(volume: FakeVolume): void {
    if (volume.owner === this.user) return;
    this.alerts.push({ kind: 'overwrite_attempt', userId: this.user, volumeId: volume.volumeId });
    throw refuse(
      'registered_to_another_operator',
      'The backup stopped: this volume is registered to another operator.',
      409,
    );
  }

  #pairOf(volumeId: string): FakePair {
    for (const pair of this.pairs.values()) if (pair.volumeId === volumeId) return pair;
    const pair: FakePair = {
      pairId: crypto.randomUUID(),
      volumeId,
      seqApplied: 0,
      transfers: new Map(),
    };
    this.pairs.set(pair.pairId, pair);
    return pair;
  }

  async claim(volumeId: string, resume: boolean): Promise<Claim> {
    this.#reach();
    this.counters.claims += 1;
    let volume = this.volumes.get(volumeId);
    if (!volume) {
      volume = {
        volumeId,
        owner: this.user,
        state: 'claimed',
        claimed: true,
        chunks: new Map(),
        envelopes: new Map(),
        generations: [],
      };
      this.volumes.set(volumeId, volume);
    }
    this.#assertOwner(volume);
    volume.claimed = true;
    const pair = this.#pairOf(volumeId);
    if (!resume) {
      for (const [seq, t] of pair.transfers) {
        if (seq > pair.seqApplied && t.state === 'received') pair.transfers.delete(seq);
      }
    }
    const latest = volume.generations[volume.generations.length - 1];
    return {
      volumeId,
      pairId: pair.pairId,
      claimExpiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      nextGeneration: volume.generations.length + 1,
      previousManifestHash: latest?.hash ?? null,
      seqApplied: pair.seqApplied,
      buffered: resume
        ? [...pair.transfers.values()]
            .filter((t) => t.seq > pair.seqApplied && t.state === 'received')
            .map((t) => t.seq)
            .sort((a, b) => a - b)
        : [],
      epochs: [...volume.envelopes.keys()].sort((a, b) => a - b),
      ...(this.rotation ? { rotation: { ...this.rotation } } : {}),
    };
  }

  async releaseClaim(volumeId: string): Promise<void> {
    this.#reach();
    const volume = this.volumes.get(volumeId);
    if (!volume) throw refuse('volume_not_found', `The site has no volume ${volumeId}.`, 404);
    this.#assertOwner(volume);
    volume.claimed = false;
    if (volume.state === 'claimed') this.forget(volumeId);
  }

  /** What the real site does to a claim that never committed (release, time-to-live). */
  forget(volumeId: string): void {
    const volume = this.volumes.get(volumeId);
    if (!volume) return;
    if (volume.generations.length) {
      volume.state = 'registered';
      return;
    }
    this.volumes.delete(volumeId);
    const pair = this.#pairOf(volumeId);
    for (const [seq, t] of pair.transfers) {
      if (seq > pair.seqApplied && t.state === 'received') pair.transfers.delete(seq);
    }
  }

  async generationManifest(volumeId: string, generation: number): Promise<GenerationManifest> {
    this.#reach();
    const volume = this.volumes.get(volumeId);
    const found = volume?.generations[generation - 1];
    if (!volume || !found) throw refuse('not_found', 'No such generation.', 404);
    const device = this.devices.get(found.manifest.index.deviceKeyFingerprint)!;
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', device.key));
    return {
      volumeId,
      generation,
      manifest: found.manifest,
      devicePublicKey: btoa(String.fromCharCode(...spki))
        .replaceAll('+', '-')
        .replaceAll('/', '_')
        .replace(/=+$/, ''),
      receipt: found.receipt,
    };
  }

  async headChunk(volumeId: string, chunkId: string): Promise<StoredChunk> {
    this.#reach();
    this.counters.heads += 1;
    const volume = this.volumes.get(volumeId);
    if (!volume) return { present: false };
    this.#assertOwner(volume);
    const chunk = volume.chunks.get(chunkId);
    return chunk
      ? { present: true, ciphertextSha256: chunk.hash, epoch: chunk.epoch }
      : { present: false };
  }

  async putTransfer(
    pairId: string,
    seq: number,
    body: Uint8Array<ArrayBuffer>,
    bodySha256: string,
  ): Promise<TransferReceived> {
    this.#reach();
    this.counters.puts += 1;
    const pair = this.pairs.get(pairId);
    const volume = pair && this.volumes.get(pair.volumeId);
    if (!pair || !volume) throw refuse('pair_not_found', 'The site has no such pair.', 404);
    this.#assertOwner(volume);
    if ((await sha256Hex(body)) !== bodySha256) {
      throw refuse('body_hash_mismatch', 'The transfer arrived damaged.', 400);
    }
    const earlier = pair.transfers.get(seq);
    if (earlier) return this.#answer(pair, earlier, bodySha256, true);
    if (seq <= pair.seqApplied) {
      throw refuse('sequence_conflict', `Transfer ${seq} was already applied.`, 409);
    }
    const transfer = decodeTransfer(body, this.chunkSize);
    if (transfer.header.kind === 'chunk') {
      this.counters.chunkTransfers += 1;
      const { chunkId } = transfer.header;
      if (!volume.chunks.has(chunkId)) {
        const blob = transfer.payload.slice();
        volume.chunks.set(chunkId, {
          blob,
          hash: await ciphertextHash(blob),
          epoch: parseChunkBlobHeader(blob).epoch,
        });
      }
    }
    const stored: StoredTransfer = { seq, sha: bodySha256, body: body.slice(), state: 'received' };
    pair.transfers.set(seq, stored);
    if (transfer.header.kind === 'commit' && this.holdCommitMs > 0) {
      const delay = this.holdCommitMs;
      this.holdCommitMs = 0;
      setTimeout(() => {
        this.#applying = this.#applying.then(() => this.#applyInOrder(pair, volume));
      }, delay);
      return this.#answer(pair, stored, bodySha256, false);
    }
    // One pair's stream is applied by one task at a time, as at the real site.
    const applied = this.#applying.then(() => this.#applyInOrder(pair, volume));
    this.#applying = applied.catch(() => undefined);
    await applied;
    this.onTransfer?.(seq);
    return this.#answer(pair, stored, bodySha256, false);
  }

  #answer(
    pair: FakePair,
    transfer: StoredTransfer,
    sha: string,
    duplicate: boolean,
  ): TransferReceived {
    if (transfer.sha !== sha) throw refuse('sequence_conflict', 'Other content.', 409);
    if (transfer.state === 'received') {
      return { status: 'buffered', seqApplied: pair.seqApplied };
    }
    if (transfer.outcome?.refusal) throw transfer.outcome.refusal;
    return {
      pairId: pair.pairId,
      seq: transfer.seq,
      status: duplicate ? 'duplicate' : 'applied',
      seqApplied: pair.seqApplied,
      ...(transfer.outcome?.receipt ? { receipt: transfer.outcome.receipt } : {}),
    };
  }

  async #applyInOrder(pair: FakePair, volume: FakeVolume): Promise<void> {
    for (;;) {
      const next = pair.transfers.get(pair.seqApplied + 1);
      if (!next || next.state !== 'received') return;
      try {
        next.outcome = await this.#apply(next, volume);
        next.state = 'applied';
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        next.outcome = { refusal: error };
        next.state = 'refused';
      }
      pair.seqApplied = next.seq;
    }
  }

  async #apply(transfer: StoredTransfer, volume: FakeVolume): Promise<{ receipt?: Receipt }> {
    const { header, payload } = decodeTransfer(transfer.body, this.chunkSize);
    if (header.kind === 'chunk') return {};
    if (header.kind === 'epoch-key') {
      this.counters.epochKeyTransfers += 1;
      const envelope = fromUtf8(payload);
      await checkEnvelope(envelope, this.escrow.privateKey, {
        purpose: 'escrow',
        volumeId: volume.volumeId,
        epochs: [header.epoch],
      });
      const known = volume.envelopes.get(header.epoch);
      if (known && known !== envelope) throw refuse('epoch_exists', 'Epoch has a key.', 409);
      volume.envelopes.set(header.epoch, envelope);
      return {};
    }
    this.counters.commits += 1;
    return { receipt: await this.#commit(volume, payload) };
  }

  async #commit(volume: FakeVolume, payloadBytes: Uint8Array): Promise<Receipt> {
    const payload = commitPayloadSchema.parse(parseJsonBytes(payloadBytes));
    const { manifest } = payload;
    const hash = await manifestHash(manifest);
    const latest = volume.generations[volume.generations.length - 1];
    if (latest?.hash === hash) return latest.receipt;
    const device = this.devices.get(manifest.index.deviceKeyFingerprint);
    if (!device || device.userId !== volume.owner) {
      throw refuse('unknown_device_key', 'The device key is not registered.', 409);
    }
    await verifyManifestSignature(manifest, device.key);
    if (
      manifest.index.generation !== volume.generations.length + 1 ||
      manifest.index.previousManifestHash !== (latest?.hash ?? null)
    ) {
      throw refuse('wrong_generation', 'Wrong generation.', 409);
    }
    const bad = manifest.index.chunks.filter(
      (entry) => volume.chunks.get(entry.chunkId)?.hash !== entry.ciphertextSha256,
    );
    if (bad.length) {
      throw refuse('chunks_missing', `${bad.length} chunk(s) missing or different.`, 409);
    }
    if (manifestEpochs(manifest).some((epoch) => !volume.envelopes.has(epoch))) {
      throw refuse('keys_missing', 'Epoch keys missing.', 409);
    }
    const restorers = [...new Set([...payload.restorers, volume.owner])].sort();
    const receipt = await signReceipt(
      {
        volumeId: volume.volumeId,
        generation: manifest.index.generation,
        manifestHash: hash,
        owner: volume.owner,
        restorerListHash: await restorerListHash(restorers),
        policy: payload.policy,
        counter: String(volume.generations.length + 1),
        issuedAt: new Date().toISOString(),
        siteId: this.info.siteId,
        deviceKeyFingerprint: manifest.index.deviceKeyFingerprint,
        auditChainHead: '0'.repeat(64),
      },
      this.signing.privateKey,
    );
    volume.generations.push({ manifest, hash, receipt, restorers });
    volume.state = 'registered';
    volume.claimed = false;
    return receipt;
  }

  /** What an administrator's import would check of a registration file (BK-9, ES-3). */
  openRegistration(bytes: Uint8Array) {
    return openRegistrationFile(bytes, this.info.siteId, this.escrow.privateKey);
  }

  /** The operator's escrow records (GET /api/volumes/mine). */
  records(): EscrowRecord[] {
    return [...this.volumes.values()]
      .filter((v) => v.owner === this.user && v.generations.length > 0)
      .map((v) => {
        const latest = v.generations[v.generations.length - 1]!;
        return {
          volumeId: v.volumeId,
          owner: v.owner,
          restorers: latest.restorers,
          policy: latest.receipt.statement.policy,
          state: 'active' as const,
          generations: v.generations.length,
          latestGeneration: v.generations.length,
          bytes: latest.manifest.index.chunks.reduce((sum, c) => sum + c.length, 0),
          releases: 0,
          createdAt: v.generations[0]!.receipt.statement.issuedAt,
          updatedAt: latest.receipt.statement.issuedAt,
        };
      });
  }

  /** The same site behind MSW, for component tests of the console. */
  handlers(): HttpHandler[] {
    const answer = async (
      work: () => Promise<unknown>,
      status: () => number = () => 200,
    ): Promise<Response> => {
      try {
        const body = await work();
        return HttpResponse.json(body as object, { status: status() });
      } catch (error) {
        if (error instanceof ApiError && error.code === 'network_error')
          return HttpResponse.error();
        if (error instanceof ApiError) {
          return HttpResponse.json(
            { code: error.code, message: error.message },
            { status: error.status },
          );
        }
        throw error;
      }
    };
    const at = (path: string): string => `*${path}`;
    return [
      http.get(at(apiRoutes.site.path), () => answer(() => this.siteInfo())),
      http.post(at(apiRoutes.registerDevice.path), async ({ request }) =>
        answer(async () => this.registerDevice((await request.json()) as RegisterDeviceRequest)),
      ),
      http.get(at(apiRoutes.myVolumes.path), () =>
        answer(async () => {
          this.#reach();
          return { records: this.records() };
        }),
      ),
      http.get(at(apiRoutes.volumeOwner.path), ({ params }) =>
        answer(() => this.volumeOwner(String(params.volumeId))),
      ),
      http.post(at(apiRoutes.claimVolume.path), async ({ params, request }) =>
        answer(async () =>
          this.claim(
            String(params.volumeId),
            Boolean(((await request.json()) as { resume?: boolean }).resume),
          ),
        ),
      ),
      http.delete(at(apiRoutes.releaseClaim.path), ({ params }) =>
        answer(async () => {
          await this.releaseClaim(String(params.volumeId));
          return { ok: true };
        }),
      ),
      http.get(at(apiRoutes.generationManifest.path), ({ params }) =>
        answer(() => this.generationManifest(String(params.volumeId), Number(params.generation))),
      ),
      http.head(at(apiRoutes.headChunk.path), async ({ params }) => {
        if (!this.online) return HttpResponse.error();
        const stored = await this.headChunk(String(params.volumeId), String(params.chunkId));
        if (!stored.present) return new HttpResponse(null, { status: 404 });
        return new HttpResponse(null, {
          status: 200,
          headers: {
            [CIPHERTEXT_SHA256_HEADER]: stored.ciphertextSha256!,
            [CHUNK_EPOCH_HEADER]: String(stored.epoch),
          },
        });
      }),
      http.put(at(apiRoutes.putTransfer.path), async ({ params, request }) => {
        const body = new Uint8Array(await request.arrayBuffer());
        const sha = request.headers.get(BODY_SHA256_HEADER) ?? '';
        let status = 200;
        return answer(
          async () => {
            const received = await this.putTransfer(
              String(params.pairId),
              Number(params.seq),
              body,
              sha,
            );
            if (received.status === 'buffered') status = 202;
            return received;
          },
          () => status,
        );
      }),
    ];
  }
}
