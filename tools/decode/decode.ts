/**
 * Restores an image from exported ciphertext, following docs/FORMAT.md
 * "Restoring" step by step with node:crypto only. The manifest and the blobs
 * come from a manifest file and a directory of chunk files, or from one
 * bundle file (§16) read at offsets; both go through the same checks. The
 * output is written chunk by chunk to `<out>.partial` and renamed only once
 * the whole image has been verified; on any failure the partial file is
 * removed.
 */

import {
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import {
  DecodeError,
  base64url,
  canonicalJson,
  checkKeyShareFile,
  checkKeysFile,
  checkManifest,
  checkSecret,
  keysFileType,
  type ChunkEntry,
  type Json,
  type Manifest,
} from './format';
import { combineShareFiles } from './shares';

/**
 * Where the ciphertext comes from: `manifestPath` and `chunksDir`, or
 * `bundlePath` instead of both.
 */
export interface DecodeOptions {
  /** The generation's signed manifest (FORMAT.md §6.5). */
  manifestPath?: string;
  /**
   * One keys file, or the key-share files of k (or more) of the sites that
   * keep the volume's keys in shares (FORMAT.md §8.1, §9).
   */
  keysPath: string | readonly string[];
  /** Directory of chunk blobs, each named by its chunk ID in hex. */
  chunksDir?: string;
  /** A bundle (FORMAT.md §16): the manifest and every blob in one file. */
  bundlePath?: string;
  outPath: string;
  /** Replace an existing output file. */
  force?: boolean;
}

export interface DecodeResult {
  volumeId: string;
  generation: number;
  fileName: string;
  size: number;
  imageSha256: string;
  chunks: number;
  /** Key-share files whose share did not fit the others and was left out. */
  warnings: string[];
}

/** The keys as the decoder uses them, from a keys file or combined from shares. */
interface Keys {
  volumeId: string;
  chunkIdKey: Buffer;
  dataKeys: Map<number, Buffer>;
  devicePublicKeys: string[];
  /** Set when the keys were combined from shares. */
  shares?: { threshold: number; shares: number; siteIds: string[] };
  warnings: string[];
  /** What to call the source of the keys in messages. */
  source: string;
}

const BLOB_HEADER = 21;
const TAG = 16;
/** FORMAT.md §16: "CSTB", version, u32 length of the manifest. */
const BUNDLE_HEADER = 9;
/** FORMAT.md §16: "CSTE", u64 length of the bundle. */
const BUNDLE_TRAILER = 12;
const BUNDLE_MANIFEST_MIN = 2;
const BUNDLE_MANIFEST_MAX = 2 ** 28;

function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new DecodeError(`the ${what} is not JSON`);
  }
}

function readJson(what: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DecodeError(`cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
  return parseJson(`${what} ${file}`, text);
}

/** Up to `length` bytes of `fd` from `position`; fewer only where the file ends. */
function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const read = readSync(fd, buffer, done, length - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return buffer.subarray(0, done);
}

/**
 * Where the manifest and the blobs come from. Every check of what is read
 * is the decoder's, the same for every source.
 */
interface CiphertextSource {
  /** The manifest, parsed as JSON but not yet checked. */
  readonly manifest: unknown;
  /**
   * Called once the manifest has been checked and verified, before anything
   * is written: refuses a source that cannot hold every blob the index names.
   */
  checkLayout(index: Manifest['index']): void;
  /** The blob the index names at `entry`, as stored; `missing` when there is none. */
  readBlob(entry: ChunkEntry, missing: (reason: string) => never): Buffer;
  close(): void;
}

/** A manifest file and a directory of chunk files named by chunk ID (FORMAT.md §5, §7). */
function chunkDirectory(manifestPath: string, chunksDir: string): CiphertextSource {
  return {
    manifest: readJson('manifest', manifestPath),
    checkLayout: () => undefined,
    readBlob(entry, missing) {
      const file = path.join(chunksDir, entry.chunkId);
      if (!existsSync(file)) missing(`its file ${file} is missing`);
      return readFileSync(file);
    },
    close: () => undefined,
  };
}

/**
 * A bundle (FORMAT.md §16), read at offsets and never whole: header and
 * manifest first; once the index is trusted, its layout, length and trailer.
 */
function bundleFile(file: string): CiphertextSource {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new DecodeError(`cannot read the bundle ${file}: ${(error as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    const head = readAt(fd, 0, BUNDLE_HEADER);
    if (head.subarray(0, 4).toString('latin1') !== 'CSTB') {
      throw new DecodeError(`${file} is not a Custodian bundle (it does not start with "CSTB")`);
    }
    if (head.length < BUNDLE_HEADER) {
      throw new DecodeError(
        `the bundle ${file} was cut off inside its header: it is ${size} bytes long`,
      );
    }
    if (head[4] !== 1) {
      throw new DecodeError(
        `the bundle ${file} has version ${head[4]!}; this decoder reads version 1`,
      );
    }
    const manifestLength = head.readUInt32BE(5);
    if (manifestLength < BUNDLE_MANIFEST_MIN || manifestLength > BUNDLE_MANIFEST_MAX) {
      throw new DecodeError(
        `the bundle ${file} says its manifest is ${manifestLength} bytes long (${BUNDLE_MANIFEST_MIN} to ${BUNDLE_MANIFEST_MAX})`,
      );
    }
    const blobsStart = BUNDLE_HEADER + manifestLength;
    if (blobsStart > size) {
      throw new DecodeError(
        `the bundle ${file} was cut off inside its manifest: it is ${size} bytes long, its manifest ends at byte ${blobsStart}`,
      );
    }
    const manifestBytes = readAt(fd, BUNDLE_HEADER, manifestLength);
    const manifest = parseJson(`manifest in the bundle ${file}`, manifestBytes.toString('utf8'));
    const offsets = new Map<string, number>();
    return {
      manifest,
      checkLayout(index) {
        // The distinct chunk IDs in the order of their first position, each blob once.
        const first = new Map<string, { position: number; entry: ChunkEntry; offset: number }>();
        let end = blobsStart;
        for (const [position, entry] of index.chunks.entries()) {
          const known = first.get(entry.chunkId);
          if (!known) {
            first.set(entry.chunkId, { position, entry, offset: end });
            end += BLOB_HEADER + entry.length + TAG;
          } else if (
            known.entry.length !== entry.length ||
            known.entry.epoch !== entry.epoch ||
            known.entry.ciphertextSha256 !== entry.ciphertextSha256
          ) {
            throw new DecodeError(
              `the bundle's index names chunk ${entry.chunkId} at positions ${known.position} and ${position} with different lengths, epochs or ciphertext hashes: refused`,
            );
          }
        }
        const total = end + BUNDLE_TRAILER;
        if (size < total) {
          const cut = [...first.values()].find(
            ({ entry, offset }) => offset + BLOB_HEADER + entry.length + TAG > size,
          );
          throw new DecodeError(
            `the bundle ${file} was cut off: it is ${size} bytes long, its index needs ${total} (${total - size} bytes missing); ` +
              (cut
                ? `chunk ${cut.position} (${cut.entry.chunkId}) is not whole`
                : 'its trailer is missing'),
          );
        }
        if (size > total) {
          throw new DecodeError(
            `the bundle ${file} has ${size - total} bytes after its end (it is ${size} bytes long, its index needs ${total})`,
          );
        }
        const trailer = readAt(fd, end, BUNDLE_TRAILER);
        if (
          trailer.length !== BUNDLE_TRAILER ||
          trailer.subarray(0, 4).toString('latin1') !== 'CSTE' ||
          trailer.readBigUInt64BE(4) !== BigInt(total)
        ) {
          throw new DecodeError(
            `the bundle ${file} does not end with its trailer ("CSTE" and its length, ${total}): it is incomplete or damaged`,
          );
        }
        for (const [chunkId, { offset }] of first) offsets.set(chunkId, offset);
      },
      readBlob(entry, missing) {
        const offset = offsets.get(entry.chunkId);
        if (offset === undefined) missing('the bundle has no place for it');
        return readAt(fd, offset!, BLOB_HEADER + entry.length + TAG);
      },
      close: () => closeSync(fd),
    };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function openSource(options: DecodeOptions): CiphertextSource {
  const { manifestPath, chunksDir, bundlePath } = options;
  if (bundlePath !== undefined) {
    if (manifestPath !== undefined || chunksDir !== undefined) {
      throw new DecodeError(
        'a bundle replaces the manifest and the chunk directory: give one or the other',
      );
    }
    return bundleFile(bundlePath);
  }
  if (manifestPath === undefined || chunksDir === undefined) {
    throw new DecodeError('give a bundle, or a manifest and a chunk directory');
  }
  return chunkDirectory(manifestPath, chunksDir);
}

function u32be(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

/** AES-256-GCM open (NIST SP 800-38D); `sealed` is ciphertext ‖ 16-byte tag. */
function openGcm(key: Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer): Buffer | null {
  if (sealed.length < TAG) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    return Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - TAG)),
      decipher.final(),
    ]);
  } catch {
    return null;
  }
}

function sha256(data: Buffer | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * FORMAT.md §9: one keys file, or key-share files (§8.1) combined into the
 * keys. Several paths must all be key-share files.
 */
function loadKeys(paths: readonly string[]): Keys {
  if (paths.length === 0) throw new DecodeError('no keys file given');
  const values = paths.map((file) =>
    readJson(paths.length === 1 ? 'keys file' : 'key-share file', file),
  );
  if (paths.length === 1 && keysFileType(values[0]) !== 'custodian-key-share-file') {
    const file = checkKeysFile(values[0]);
    const dataKeys = new Map<number, Buffer>();
    file.dataKeys.forEach((k, i) => dataKeys.set(k.epoch, base64url(`data key ${i}`, k.key, 32)));
    return {
      volumeId: file.volumeId,
      chunkIdKey: base64url('chunk-ID key', file.chunkIdKey, 32),
      dataKeys,
      devicePublicKeys: file.devicePublicKeys,
      warnings: [],
      source: 'keys file',
    };
  }
  const combined = combineShareFiles(
    values.map((value, i) => ({
      name: `key-share file ${paths[i]!}`,
      file: checkKeyShareFile(`key-share file ${paths[i]!}`, value),
    })),
  );
  return {
    volumeId: combined.volumeId,
    chunkIdKey: combined.chunkIdKey,
    dataKeys: combined.dataKeys,
    devicePublicKeys: combined.devicePublicKeys,
    shares: {
      threshold: combined.threshold,
      shares: combined.shares,
      siteIds: combined.siteIds,
    },
    warnings: combined.warnings,
    source: 'key-share files',
  };
}

/** FORMAT.md §8.1: shares must come from the escrow the signed index names, if it names one. */
function checkEscrow(manifest: Manifest, keys: Keys): void {
  const escrow = manifest.index.escrow;
  if (!escrow || !keys.shares) return;
  if (keys.shares.threshold !== escrow.threshold) {
    throw new DecodeError(
      `the key-share files need ${keys.shares.threshold} shares, the signed manifest says ${escrow.threshold}`,
    );
  }
  if (keys.shares.shares !== escrow.sites.length) {
    throw new DecodeError(
      `the key-share files say each key was split into ${keys.shares.shares} shares, the signed manifest lists ${escrow.sites.length} sites`,
    );
  }
  const listed = escrow.sites.map((s) => s.siteId);
  const stranger = keys.shares.siteIds.find((id) => !listed.includes(id));
  if (stranger !== undefined) {
    throw new DecodeError(
      `a key-share file comes from site ${stranger}, which the signed manifest does not list among the sites that keep the keys (${listed.join(', ')})`,
    );
  }
}

/** FORMAT.md "Manifests": verify the device signature over the canonical signed part. */
function verifyManifest(manifest: Manifest, keys: Keys): void {
  let deviceKey: KeyObject | undefined;
  for (const [i, encoded] of keys.devicePublicKeys.entries()) {
    const spki = base64url(`${keys.source} devicePublicKeys[${i}]`, encoded);
    if (sha256(spki).toString('hex') === manifest.index.deviceKeyFingerprint) {
      try {
        deviceKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      } catch {
        throw new DecodeError(`device public key ${i} of the ${keys.source} is not a valid SPKI`);
      }
    }
  }
  if (!deviceKey) {
    throw new DecodeError(
      `the manifest was signed by device key ${manifest.index.deviceKeyFingerprint}, which the ${keys.source} does not list`,
    );
  }
  const signed = canonicalJson({
    type: manifest.type,
    index: manifest.index as unknown as Json,
    sealed: manifest.sealed,
  });
  const signature = base64url('manifest signature', manifest.signature, 64);
  const ok = verify(
    'sha256',
    Buffer.from(signed, 'utf8'),
    { key: deviceKey, dsaEncoding: 'ieee-p1363' },
    signature,
  );
  if (!ok)
    throw new DecodeError('the manifest signature does not verify: it was altered or forged');
}

function chunkAad(volumeId: string, chunkId: Buffer, epoch: number): Buffer {
  const id = Buffer.from(volumeId, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(id.length);
  return Buffer.concat([
    Buffer.from('CSTA', 'ascii'),
    Buffer.of(1),
    length,
    id,
    chunkId,
    u32be(epoch),
  ]);
}

export function decodeImage(options: DecodeOptions): DecodeResult {
  const keys = loadKeys(
    typeof options.keysPath === 'string' ? [options.keysPath] : options.keysPath,
  );
  const { chunkIdKey, dataKeys } = keys;
  try {
    return decodeWithKeys(options, keys);
  } finally {
    chunkIdKey.fill(0);
    for (const key of dataKeys.values()) key.fill(0);
  }
}

function decodeWithKeys(options: DecodeOptions, keys: Keys): DecodeResult {
  const source = openSource(options);
  try {
    return decodeFrom(source, options, keys);
  } finally {
    source.close();
  }
}

function decodeFrom(source: CiphertextSource, options: DecodeOptions, keys: Keys): DecodeResult {
  const manifest = checkManifest(source.manifest);
  const { index } = manifest;
  if (keys.volumeId !== index.volumeId) {
    throw new DecodeError(
      `the keys are for volume ${keys.volumeId}, the manifest for volume ${index.volumeId}`,
    );
  }
  verifyManifest(manifest, keys);
  checkEscrow(manifest, keys);

  const { chunkIdKey, dataKeys } = keys;
  const keyOf = (epoch: number, what: string): Buffer => {
    const key = dataKeys.get(epoch);
    if (!key)
      throw new DecodeError(
        `${what} needs the data key of epoch ${epoch}, which the ${keys.source} lack${keys.shares ? '' : 's'}`,
      );
    return key;
  };

  // FORMAT.md "Sealed part": AAD = "CSTM" ‖ 0x01 ‖ SHA-256(canonical index) ‖ u32 epoch.
  const indexHash = sha256(canonicalJson(index as unknown as Json));
  const sealedAad = Buffer.concat([
    Buffer.from('CSTM', 'ascii'),
    Buffer.of(1),
    indexHash,
    u32be(manifest.sealed.epoch),
  ]);
  const secretBytes = openGcm(
    keyOf(manifest.sealed.epoch, 'the sealed part'),
    base64url('sealed nonce', manifest.sealed.nonce, 12),
    sealedAad,
    base64url('sealed ciphertext', manifest.sealed.ciphertext),
  );
  if (!secretBytes) {
    throw new DecodeError('the sealed part of the manifest does not open with its data key');
  }
  let secretJson: unknown;
  try {
    secretJson = JSON.parse(secretBytes.toString('utf8'));
  } catch {
    throw new DecodeError('the sealed part of the manifest is not JSON');
  }
  const secret = checkSecret(secretJson);
  const expectedChunks = Math.ceil(secret.size / index.chunkSize);
  const total = index.chunks.reduce((sum, c) => sum + c.length, 0);
  if (index.chunks.length !== expectedChunks || total !== secret.size) {
    throw new DecodeError(
      `the index lists ${index.chunks.length} chunks and ${total} bytes, the image has ${secret.size} bytes: truncated or padded index`,
    );
  }
  source.checkLayout(index);

  if (existsSync(options.outPath) && !options.force) {
    throw new DecodeError(`${options.outPath} already exists (use --force to replace it)`);
  }
  const partial = `${options.outPath}.partial`;
  const out = openSync(partial, 'w');
  const imageHash = createHash('sha256');
  let written = 0;
  try {
    for (const [position, entry] of index.chunks.entries()) {
      const name = `chunk ${position} (${entry.chunkId})`;
      const fail = (reason: string): never => {
        throw new DecodeError(`${name} was tampered with or damaged: ${reason}`);
      };
      const blob = source.readBlob(entry, fail);
      if (blob.length !== BLOB_HEADER + entry.length + TAG) {
        fail(`it is ${blob.length} bytes, the index implies ${BLOB_HEADER + entry.length + TAG}`);
      }
      if (sha256(blob).toString('hex') !== entry.ciphertextSha256) {
        fail('its SHA-256 differs from the signed index');
      }
      if (blob.subarray(0, 4).toString('latin1') !== 'CSTC' || blob[4] !== 1) {
        fail('it does not start with "CSTC" version 1');
      }
      const epoch = blob.readUInt32BE(5);
      if (epoch !== entry.epoch) fail(`its header names epoch ${epoch}, the index ${entry.epoch}`);
      const chunkId = Buffer.from(entry.chunkId, 'hex');
      const plaintext = openGcm(
        keyOf(entry.epoch, name),
        blob.subarray(9, BLOB_HEADER),
        chunkAad(index.volumeId, chunkId, entry.epoch),
        blob.subarray(BLOB_HEADER),
      );
      if (!plaintext) fail('AES-GCM authentication failed');
      const mac = createHmac('sha256', chunkIdKey).update(plaintext!).digest();
      if (!timingSafeEqual(mac, chunkId)) fail('HMAC-SHA-256 of its content is not its chunk ID');
      writeSync(out, plaintext!);
      imageHash.update(plaintext!);
      written += plaintext!.length;
      plaintext!.fill(0);
    }
    closeSync(out);
    const digest = imageHash.digest('hex');
    if (written !== secret.size || digest !== secret.imageSha256) {
      throw new DecodeError(
        `the restored image (${written} bytes, SHA-256 ${digest}) differs from the one backed up (${secret.size} bytes, SHA-256 ${secret.imageSha256})`,
      );
    }
    renameSync(partial, options.outPath);
  } catch (error) {
    try {
      closeSync(out);
    } catch {
      // Already closed.
    }
    rmSync(partial, { force: true });
    throw error;
  }
  return {
    volumeId: index.volumeId,
    generation: index.generation,
    fileName: secret.fileName,
    size: written,
    imageSha256: secret.imageSha256,
    chunks: index.chunks.length,
    warnings: keys.warnings,
  };
}
