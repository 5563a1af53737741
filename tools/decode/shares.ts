/**
 * Key shares (docs/FORMAT.md §8.1, §9): k key-share files, one per site,
 * combined into the volume's keys with Lagrange interpolation at x = 0 over
 * GF(2^8), written again from the document with node:crypto only (no
 * Shamir library: the decoder is a second implementation). Every rebuilt key
 * must match the check its shares name; with more than k files, a file whose
 * share does not fit is named and, if k others agree, left out.
 */

import { createHash } from 'node:crypto';
import { DecodeError, base64url, type KeyShareFile } from './format';

const KEY_LENGTH = 32;
const SHARE_LENGTH = KEY_LENGTH + 1;

/** a · b in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (0x11b), without branches on the bytes. */
export function gfMul(a: number, b: number): number {
  let product = 0;
  for (let bit = 0; bit < 8; bit++) {
    product ^= a & -((b >> bit) & 1);
    a = ((a << 1) ^ (0x1b & -(a >> 7))) & 0xff;
  }
  return product;
}

/** a^−1 = a^254 in GF(2^8) (the multiplicative group has 255 elements); a ≠ 0. */
export function gfInv(a: number): number {
  if (a === 0) throw new RangeError('0 has no inverse in GF(2^8)');
  let result = 1;
  for (let e = 254, base = a; e > 0; e >>= 1, base = gfMul(base, base)) {
    if (e & 1) result = gfMul(result, base);
  }
  return result;
}

/**
 * The value at x = 0 of the polynomial through the shares, byte by byte:
 * secret = Σ_i y_i · Π_{j≠i} x_j / (x_i + x_j)   (+ and − are XOR in GF(2^8)).
 * Each share is its y bytes followed by its x byte; the x values must be
 * distinct and non-zero.
 */
export function interpolateAtZero(shares: readonly Uint8Array[]): Buffer {
  const length = shares[0]!.length - 1;
  const xs = shares.map((s) => s[length]!);
  const weights = xs.map((xi, i) => {
    let weight = 1;
    xs.forEach((xj, j) => {
      if (j !== i) weight = gfMul(weight, gfMul(xj, gfInv(xi ^ xj)));
    });
    return weight;
  });
  const secret = Buffer.alloc(length);
  for (let byte = 0; byte < length; byte++) {
    let value = 0;
    shares.forEach((share, i) => (value ^= gfMul(weights[i]!, share[byte]!)));
    secret[byte] = value;
  }
  return secret;
}

/** First 16 bytes of SHA-256("custodian-key-check" ‖ 0x00 ‖ key), lower-case hex. */
export function keyCheck(key: Uint8Array): string {
  return createHash('sha256')
    .update('custodian-key-check', 'utf8')
    .update(Buffer.of(0))
    .update(key)
    .digest()
    .subarray(0, 16)
    .toString('hex');
}

/** The keys the shares give, as the decoder uses them. */
export interface CombinedKeys {
  volumeId: string;
  threshold: number;
  /** n: shares made of each key, one per site. */
  shares: number;
  siteIds: string[];
  chunkIdKey: Buffer;
  dataKeys: Map<number, Buffer>;
  devicePublicKeys: string[];
  /** Files whose share of some key does not fit the others (left out). */
  warnings: string[];
}

interface NamedFile {
  name: string;
  file: KeyShareFile;
}

interface Part {
  name: string;
  share: Buffer;
  check: string;
}

/** At most this many sets of k files are tried for one key. */
const MAX_TRIES = 1000;

function* subsets<T>(items: readonly T[], k: number, start = 0, chosen: T[] = []): Generator<T[]> {
  if (chosen.length === k) {
    yield [...chosen];
    return;
  }
  for (let i = start; i <= items.length - (k - chosen.length); i++) {
    chosen.push(items[i]!);
    yield* subsets(items, k, i + 1, chosen);
    chosen.pop();
  }
}

/**
 * One key from the parts of every file that holds it: all of them if they
 * agree, else the first k that rebuild the key its check names (the others
 * are named in `warnings`). Refuses duplicate x coordinates and parts that
 * name different checks.
 */
function combineKey(what: string, parts: Part[], k: number, warnings: string[]): Buffer {
  const check = parts[0]!.check;
  const differing = parts.filter((p) => p.check !== check);
  if (differing.length > 0) {
    throw new DecodeError(
      `the ${what} of ${differing[0]!.name} names key check ${differing[0]!.check}, that of ${parts[0]!.name} ${check}: the files hold shares of different keys`,
    );
  }
  const byX = new Map<number, string>();
  for (const part of parts) {
    const x = part.share[KEY_LENGTH]!;
    if (x === 0) throw new DecodeError(`the ${what} share of ${part.name} has x coordinate 0`);
    const other = byX.get(x);
    if (other !== undefined) {
      throw new DecodeError(
        `the ${what} shares of ${other} and ${part.name} have the same x coordinate ${x}: the same share twice, or shares of different splits`,
      );
    }
    byX.set(x, part.name);
  }
  const all = interpolateAtZero(parts.map((p) => p.share));
  if (keyCheck(all) === check) return all;
  all.fill(0);
  if (parts.length > k) {
    let tries = 0;
    for (const members of subsets(parts, k)) {
      if (++tries > MAX_TRIES) break;
      const key = interpolateAtZero(members.map((p) => p.share));
      if (keyCheck(key) !== check) {
        key.fill(0);
        continue;
      }
      for (const other of parts.filter((p) => !members.includes(p))) {
        const again = interpolateAtZero([...members.slice(0, k - 1), other].map((p) => p.share));
        if (!again.equals(key)) {
          warnings.push(`the ${what} share of ${other.name} does not fit the others; left out`);
        }
        again.fill(0);
      }
      return key;
    }
  }
  throw new DecodeError(
    `the ${what} rebuilt from ${parts.map((p) => p.name).join(', ')} does not match its key check ${check}: at least one of these shares was altered or belongs to another key`,
  );
}

/**
 * FORMAT.md §8.1 "Combining": checks that the files belong together (one
 * volume, one threshold and share count, each site once, at least k files),
 * rebuilds the chunk-ID key and every data key that at least k files hold,
 * and verifies each against its check.
 */
export function combineShareFiles(files: readonly NamedFile[]): CombinedKeys {
  const first = files[0];
  if (!first) throw new DecodeError('no key-share file given');
  const { volumeId, threshold, shares } = first.file;
  for (const { name, file } of files) {
    if (file.volumeId !== volumeId) {
      throw new DecodeError(
        `${name} holds shares for volume ${file.volumeId}, ${first.name} for volume ${volumeId}: all key-share files must be of one volume`,
      );
    }
    if (file.threshold !== threshold || file.shares !== shares) {
      throw new DecodeError(
        `${name} says ${file.threshold} of ${file.shares} shares are needed, ${first.name} ${threshold} of ${shares}: the files come from different escrows (different thresholds)`,
      );
    }
  }
  const bySite = new Map<string, string>();
  for (const { name, file } of files) {
    const other = bySite.get(file.siteId);
    if (other !== undefined) {
      throw new DecodeError(
        `${other} and ${name} both come from site ${file.siteId}: give one key-share file per site`,
      );
    }
    bySite.set(file.siteId, name);
  }
  if (files.length < threshold) {
    throw new DecodeError(
      `${files.length} key-share file${files.length === 1 ? '' : 's'} given, but the keys of volume ${volumeId} need shares from ${threshold} of its ${shares} sites`,
    );
  }

  const warnings: string[] = [];
  const chunkIdKey = combineKey(
    'chunk-ID key',
    files.map(({ name, file }) => ({
      name,
      share: base64url(`${name} chunkIdKey`, file.chunkIdKey, SHARE_LENGTH),
      check: file.chunkIdKeyCheck,
    })),
    threshold,
    warnings,
  );
  const epochs = [...new Set(files.flatMap(({ file }) => file.dataKeys.map((k) => k.epoch)))].sort(
    (a, b) => a - b,
  );
  const dataKeys = new Map<number, Buffer>();
  for (const epoch of epochs) {
    const parts: Part[] = [];
    for (const { name, file } of files) {
      const entry = file.dataKeys.find((k) => k.epoch === epoch);
      if (!entry) continue;
      parts.push({
        name,
        share: base64url(`${name} data key ${epoch}`, entry.key, SHARE_LENGTH),
        check: entry.check,
      });
    }
    // Fewer than k shares of an epoch: that key stays unknown (an error only if a chunk needs it).
    if (parts.length < threshold) continue;
    dataKeys.set(epoch, combineKey(`data key of epoch ${epoch}`, parts, threshold, warnings));
  }
  const devicePublicKeys = [...new Set(files.flatMap(({ file }) => file.devicePublicKeys))];
  return {
    volumeId,
    threshold,
    shares,
    siteIds: files.map(({ file }) => file.siteId),
    chunkIdKey,
    dataKeys,
    devicePublicKeys,
    warnings: [...new Set(warnings)],
  };
}
