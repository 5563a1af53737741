/**
 * Runs Project Wycheproof test vectors (C2SP/wycheproof, testvectors_v1)
 * through the WebCrypto calls Custodian makes, so that the platform's
 * primitives are checked where they run: in Node (vitest) and in Chromium
 * (e2e/crypto-vectors.spec.ts bundles this module). Isomorphic: it takes the
 * parsed JSON files and returns counts and failures; it reads no files.
 *
 * A `valid` case that is rejected or an `invalid` case that is accepted is a
 * failure; `acceptable` cases may go either way and are only counted.
 */

import { bytesEqual, concatBytes, fromHex, toHex } from './bytes';
import { computeChunkId } from './chunk';
import { SIGNING_ALGORITHM, verifyBytes } from './device-key';

export interface VectorReport {
  readonly primitive: string;
  valid: number;
  invalid: number;
  acceptable: number;
  /** Cases not run, with the reason (e.g. truncated HMAC tags the product never uses). */
  skipped: number;
  readonly skipReasons: string[];
  readonly failures: string[];
  /**
   * Invalid cases the platform accepts in a way that cannot reach Custodian,
   * each with the reason; reported, not failed (see KNOWN_DEVIATIONS).
   */
  readonly deviations: string[];
}

/**
 * Invalid cases a platform is known to accept, limited to inputs Custodian
 * never passes to that call. Node's OpenSSL accepts a SubjectPublicKeyInfo
 * with explicit curve parameters (RFC 5480 §2.1.1 "specifiedCurve") whose
 * cofactor is missing or wrong but which otherwise are P-256's, and then
 * computes the correct P-256 shared secret; Custodian never imports ECDH keys
 * from SPKI (envelope recipients are JWKs or CryptoKeys), so this cannot
 * reach it.
 */
const KNOWN_DEVIATIONS: readonly { primitive: string; flag: string; reason: string }[] = [
  {
    primitive: 'ECDH P-256 (SPKI)',
    flag: 'UnnamedCurve',
    reason: 'explicit curve parameters accepted; ECDH keys are never imported from SPKI',
  },
];

interface WycheproofTest {
  tcId: number;
  comment: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags: string[];
  [member: string]: unknown;
}

interface WycheproofGroup {
  tests: WycheproofTest[];
  [member: string]: unknown;
}

interface WycheproofFile {
  algorithm: string;
  testGroups: WycheproofGroup[];
}

/** File names (in /work/shared/vectors or $WYCHEPROOF_DIR) and what runs them. */
export const WYCHEPROOF_FILES = {
  'aes_gcm_test.json': runAesGcm,
  'aes_wrap_test.json': runAesKw,
  'hmac_sha256_test.json': runHmacSha256,
  'ecdh_secp256r1_test.json': runEcdhSpki,
  'ecdh_secp256r1_webcrypto_test.json': runEcdhJwk,
  'ecdsa_secp256r1_sha256_p1363_test.json': runEcdsaP1363,
  'hkdf_sha256_test.json': runHkdfSha256,
} as const;

export type WycheproofFileName = keyof typeof WYCHEPROOF_FILES;

/** Runs every file given (parsed JSON, by file name). */
export async function runWycheproof(
  files: Partial<Record<WycheproofFileName, unknown>>,
): Promise<VectorReport[]> {
  const reports: VectorReport[] = [];
  for (const [name, json] of Object.entries(files)) {
    const runner = WYCHEPROOF_FILES[name as WycheproofFileName];
    if (runner && json) reports.push(await runner(json as WycheproofFile));
  }
  return reports;
}

function newReport(primitive: string): VectorReport {
  return {
    primitive,
    valid: 0,
    invalid: 0,
    acceptable: 0,
    skipped: 0,
    skipReasons: [],
    failures: [],
    deviations: [],
  };
}

function skip(report: VectorReport, count: number, reason: string): void {
  report.skipped += count;
  if (!report.skipReasons.includes(reason)) report.skipReasons.push(reason);
}

/**
 * Records one case. `accepted` is true when the operation succeeded with the
 * expected output, false when it was rejected (threw, failed to verify, or
 * produced other output).
 */
function record(report: VectorReport, test: WycheproofTest, accepted: boolean, note = ''): void {
  report[test.result] += 1;
  const label = `${report.primitive} tcId ${test.tcId} (${test.comment || test.flags.join(',')})`;
  if (test.result === 'valid' && !accepted)
    report.failures.push(`${label}: valid case rejected${note}`);
  if (test.result === 'invalid' && accepted) {
    const known = KNOWN_DEVIATIONS.find(
      (d) => d.primitive === report.primitive && test.flags.includes(d.flag),
    );
    if (known) report.deviations.push(`${label}: ${known.reason}`);
    else report.failures.push(`${label}: invalid case accepted${note}`);
  }
}

async function attempt<T>(operation: () => Promise<T>): Promise<T | undefined> {
  try {
    return await operation();
  } catch {
    return undefined;
  }
}

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;
const hex = (value: unknown): Uint8Array<ArrayBuffer> => fromHex(String(value));

/** AES-GCM (NIST SP 800-38D) as chunk.ts and manifest.ts call it: 128-bit tags. */
export async function runAesGcm(file: WycheproofFile): Promise<VectorReport> {
  const report = newReport('AES-GCM');
  for (const group of file.testGroups) {
    if (group.tagSize !== 128) {
      skip(report, group.tests.length, 'tags shorter than 128 bits are never used');
      continue;
    }
    const keySize = Number(group.keySize);
    const ivBytes = Number(group.ivSize) / 8;
    const ivAccepted = ivBytes === 12 || (await platformAcceptsGcmIv(ivBytes));
    for (const test of group.tests) {
      if (!ivAccepted && test.result !== 'invalid') {
        // Only 96-bit nonces are ever used; other lengths run where the platform takes them.
        skip(report, 1, `${ivBytes * 8}-bit IVs are not accepted by this platform`);
        continue;
      }
      const key = await attempt(() =>
        subtle().importKey('raw', hex(test.key), { name: 'AES-GCM' }, false, [
          'encrypt',
          'decrypt',
        ]),
      );
      if (!key) {
        if (keySize === 192) {
          // Chromium refuses 192-bit AES keys outright; Custodian uses 256 only.
          skip(report, 1, '192-bit AES keys are not supported by this platform');
          continue;
        }
        record(report, test, false, ': key import failed');
        continue;
      }
      const params = {
        name: 'AES-GCM',
        iv: hex(test.iv),
        additionalData: hex(test.aad),
        tagLength: 128,
      };
      const expected = concatBytes(hex(test.ct), hex(test.tag));
      const opened = await attempt(
        async () => new Uint8Array(await subtle().decrypt(params, key, expected)),
      );
      let accepted = opened !== undefined && bytesEqual(opened, hex(test.msg));
      if (accepted && test.result === 'valid') {
        const sealed = await attempt(
          async () => new Uint8Array(await subtle().encrypt(params, key, hex(test.msg))),
        );
        accepted = sealed !== undefined && bytesEqual(sealed, expected);
      }
      record(report, test, accepted);
    }
  }
  return report;
}

/** Whether the platform takes an AES-GCM IV of this many bytes at all. */
async function platformAcceptsGcmIv(ivBytes: number): Promise<boolean> {
  if (ivBytes === 0) return false;
  const probe = await attempt(async () => {
    const key = await subtle().importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt']);
    return subtle().encrypt(
      { name: 'AES-GCM', iv: new Uint8Array(ivBytes) },
      key,
      new Uint8Array(1),
    );
  });
  return probe !== undefined;
}

/** AES-KW (RFC 3394) exactly as jose's A256KW uses it: wrapKey/unwrapKey of an HMAC key. */
export async function runAesKw(file: WycheproofFile): Promise<VectorReport> {
  const report = newReport('AES-KW');
  const cekAlgorithm = { name: 'HMAC', hash: 'SHA-256' };
  for (const group of file.testGroups) {
    for (const test of group.tests) {
      const kek = await attempt(() =>
        subtle().importKey('raw', hex(test.key), 'AES-KW', false, ['wrapKey', 'unwrapKey']),
      );
      if (!kek) {
        if (group.keySize === 192) {
          skip(report, 1, '192-bit AES keys are not supported by this platform');
          continue;
        }
        record(report, test, false, ': key import failed');
        continue;
      }
      const unwrapped = await attempt(async () => {
        const cek = await subtle().unwrapKey(
          'raw',
          hex(test.ct),
          kek,
          'AES-KW',
          cekAlgorithm,
          true,
          ['sign'],
        );
        return new Uint8Array(await subtle().exportKey('raw', cek));
      });
      let accepted = unwrapped !== undefined && bytesEqual(unwrapped, hex(test.msg));
      if (accepted && test.result === 'valid') {
        const wrapped = await attempt(async () => {
          const cek = await subtle().importKey('raw', hex(test.msg), cekAlgorithm, true, ['sign']);
          return new Uint8Array(await subtle().wrapKey('raw', cek, kek, 'AES-KW'));
        });
        accepted = wrapped !== undefined && bytesEqual(wrapped, hex(test.ct));
      }
      record(report, test, accepted);
    }
  }
  return report;
}

/** HMAC-SHA-256 (RFC 2104) with full-length tags, through computeChunkId and verify. */
export async function runHmacSha256(file: WycheproofFile): Promise<VectorReport> {
  const report = newReport('HMAC-SHA-256');
  for (const group of file.testGroups) {
    if (group.tagSize !== 256) {
      skip(report, group.tests.length, 'truncated HMAC tags are never used');
      continue;
    }
    for (const test of group.tests) {
      const keyBytes = hex(test.key);
      const key = await attempt(() =>
        subtle().importKey(
          'raw',
          keyBytes,
          { name: 'HMAC', hash: 'SHA-256', length: keyBytes.length * 8 },
          false,
          ['sign', 'verify'],
        ),
      );
      if (!key) {
        record(report, test, false, ': key import failed');
        continue;
      }
      const tag = hex(test.tag);
      const computed = await attempt(() => computeChunkId(key, hex(test.msg)));
      const verified = await attempt(() => subtle().verify('HMAC', key, tag, hex(test.msg)));
      const matches = computed !== undefined && bytesEqual(computed, tag);
      if (matches !== (verified === true)) {
        report.failures.push(`HMAC-SHA-256 tcId ${test.tcId}: sign and verify disagree`);
      }
      record(report, test, matches && verified === true);
    }
  }
  return report;
}

/** DER PKCS #8 (RFC 5208) of a P-256 private scalar, without the optional public key (RFC 5915). */
function p256Pkcs8(scalar: Uint8Array): Uint8Array<ArrayBuffer> | undefined {
  let d = scalar;
  while (d.length > 32 && d[0] === 0) d = d.subarray(1);
  if (d.length > 32) return undefined;
  const padded = new Uint8Array(32);
  padded.set(d, 32 - d.length);
  return concatBytes(
    fromHex('3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420'),
    padded,
  );
}

const ECDH_P256 = { name: 'ECDH', namedCurve: 'P-256' };

async function deriveP256(privateKey: CryptoKey, publicKey: CryptoKey): Promise<Uint8Array> {
  // The call jose makes for ECDH-ES (RFC 7518 §4.6.2): 256 bits of Z.
  return new Uint8Array(
    await subtle().deriveBits({ name: 'ECDH', public: publicKey }, privateKey, 256),
  );
}

/** ECDH on P-256 with public keys as DER SubjectPublicKeyInfo (RFC 5480). */
export async function runEcdhSpki(file: WycheproofFile): Promise<VectorReport> {
  const report = newReport('ECDH P-256 (SPKI)');
  for (const group of file.testGroups) {
    for (const test of group.tests) {
      const shared = await attempt(async () => {
        const pkcs8 = p256Pkcs8(hex(test.private));
        if (!pkcs8) throw new RangeError('private scalar too long');
        const privateKey = await subtle().importKey('pkcs8', pkcs8, ECDH_P256, false, [
          'deriveBits',
        ]);
        const publicKey = await subtle().importKey('spki', hex(test.public), ECDH_P256, true, []);
        return deriveP256(privateKey, publicKey);
      });
      record(report, test, shared !== undefined && toHex(shared) === String(test.shared));
    }
  }
  return report;
}

/** ECDH on P-256 with JWK keys (RFC 7518 §6.2), as WebCrypto and jose take them. */
export async function runEcdhJwk(file: WycheproofFile): Promise<VectorReport> {
  const report = newReport('ECDH P-256 (JWK)');
  const strip = (jwk: unknown): JsonWebKey => {
    const { kid: _kid, ...rest } = jwk as JsonWebKey & { kid?: string };
    return rest;
  };
  for (const group of file.testGroups) {
    for (const test of group.tests) {
      const shared = await attempt(async () => {
        const privateKey = await subtle().importKey('jwk', strip(test.private), ECDH_P256, false, [
          'deriveBits',
        ]);
        const publicKey = await subtle().importKey('jwk', strip(test.public), ECDH_P256, true, []);
        return deriveP256(privateKey, publicKey);
      });
      record(report, test, shared !== undefined && toHex(shared) === String(test.shared));
    }
  }
  return report;
}

/** ECDSA P-256 / SHA-256 with P1363 signatures, through device-key.ts verifyBytes. */
export async function runEcdsaP1363(file: WycheproofFile): Promise<VectorReport> {
  const report = newReport('ECDSA P-256 P1363');
  for (const group of file.testGroups) {
    const publicKey = await attempt(() =>
      subtle().importKey('spki', hex(group.publicKeyDer), SIGNING_ALGORITHM, true, ['verify']),
    );
    for (const test of group.tests) {
      const ok = publicKey ? await verifyBytes(publicKey, hex(test.sig), hex(test.msg)) : false;
      record(report, test, ok, publicKey ? '' : ': public key import failed');
    }
  }
  return report;
}

/** HKDF-SHA-256 (RFC 5869). */
export async function runHkdfSha256(file: WycheproofFile): Promise<VectorReport> {
  const report = newReport('HKDF-SHA-256');
  for (const group of file.testGroups) {
    for (const test of group.tests) {
      const okm = await attempt(async () => {
        const key = await subtle().importKey('raw', hex(test.ikm), 'HKDF', false, ['deriveBits']);
        const bits = await subtle().deriveBits(
          { name: 'HKDF', hash: 'SHA-256', salt: hex(test.salt), info: hex(test.info) },
          key,
          Number(test.size) * 8,
        );
        return new Uint8Array(bits);
      });
      record(report, test, okm !== undefined && toHex(okm) === String(test.okm));
    }
  }
  return report;
}

/** One line per primitive, e.g. "AES-GCM: 158 valid, 81 invalid, 0 acceptable, 0 skipped". */
export function formatReports(reports: readonly VectorReport[]): string {
  return reports
    .map(
      (r) =>
        `${r.primitive}: ${r.valid} valid, ${r.invalid} invalid, ${r.acceptable} acceptable, ${r.skipped} skipped` +
        (r.skipReasons.length ? ` (${r.skipReasons.join('; ')})` : '') +
        (r.deviations.length ? `, ${r.deviations.length} known platform deviations` : '') +
        (r.failures.length ? `, ${r.failures.length} FAILURES` : ''),
    )
    .join('\n');
}
