import { concatBytes, fromBase64Url, toBase64Url, utf8 } from '../../../src/core/crypto/bytes';
import { publicKeyFingerprint } from '../../../src/core/crypto/device-key';

/**
 * The site's own key pairs (ES-4): an ECDH P-256 escrow key that keys are
 * wrapped to, and an ECDSA P-256 signing key for receipts. Their private
 * halves are stored only encrypted under a key derived from the master key.
 */
export interface SiteKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JsonWebKey;
  /** SHA-256 of the SubjectPublicKeyInfo, lowercase hex. */
  readonly fingerprint: string;
}

export interface SiteKeys {
  readonly escrow: SiteKeyPair;
  readonly signing: SiteKeyPair;
  /** HMAC-SHA-256 key of the audit chain (AL-4), derived from the master key. */
  readonly auditKey: CryptoKey;
}

export interface StoredSiteKey {
  readonly purpose: 'escrow' | 'signing';
  readonly publicJwk: string;
  readonly wrappedPrivate: string;
  readonly createdAt: string;
}

export interface SiteKeyRepository {
  list(): Promise<readonly StoredSiteKey[]>;
  insert(key: StoredSiteKey): Promise<void>;
}

export class SiteKeyError extends Error {
  override readonly name = 'SiteKeyError';
}

const subtle = globalThis.crypto.subtle;
const ALGORITHMS = {
  escrow: {
    params: { name: 'ECDH', namedCurve: 'P-256' },
    usages: ['deriveBits', 'deriveKey'] as KeyUsage[],
  },
  signing: {
    params: { name: 'ECDSA', namedCurve: 'P-256' },
    usages: ['sign', 'verify'] as KeyUsage[],
  },
} as const;

/** HKDF-SHA-256 (RFC 5869) of the master key for one purpose. */
async function derive(
  masterKey: Uint8Array<ArrayBuffer>,
  info: string,
  algorithm: AesKeyGenParams | HmacImportParams,
  usages: KeyUsage[],
): Promise<CryptoKey> {
  const base = await subtle.importKey('raw', masterKey, 'HKDF', false, ['deriveKey']);
  return subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: utf8('custodian master key v1'), info: utf8(info) },
    base,
    algorithm,
    false,
    usages,
  );
}

async function openPair(stored: StoredSiteKey, wrappingKey: CryptoKey): Promise<SiteKeyPair> {
  const { params, usages } = ALGORITHMS[stored.purpose];
  const sealed = fromBase64Url(stored.wrappedPrivate);
  let pkcs8: Uint8Array<ArrayBuffer>;
  try {
    pkcs8 = new Uint8Array(
      await subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: sealed.slice(0, 12),
          additionalData: utf8(`custodian site key ${stored.purpose}`),
        },
        wrappingKey,
        sealed.slice(12),
      ),
    );
  } catch {
    throw new SiteKeyError(
      "The master key does not open this site's keys: CUSTODIAN_MASTER_KEY_FILE names the wrong key for this data directory.",
    );
  }
  try {
    const privateKey = await subtle.importKey(
      'pkcs8',
      pkcs8,
      params,
      false,
      usages.filter((u) => u !== 'verify'),
    );
    const { kty, crv, x, y } = JSON.parse(stored.publicJwk) as JsonWebKey;
    const publicJwk: JsonWebKey = { kty, crv, x, y };
    const publicKey = await subtle.importKey(
      'jwk',
      publicJwk,
      params,
      true,
      stored.purpose === 'signing' ? ['verify'] : [],
    );
    return { privateKey, publicKey, publicJwk, fingerprint: await publicKeyFingerprint(publicKey) };
  } finally {
    pkcs8.fill(0);
  }
}

async function createPair(
  purpose: 'escrow' | 'signing',
  wrappingKey: CryptoKey,
  now: string,
): Promise<StoredSiteKey> {
  const { params, usages } = ALGORITHMS[purpose];
  const pair = (await subtle.generateKey(params, true, usages)) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey));
  try {
    const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(
      await subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: utf8(`custodian site key ${purpose}`) },
        wrappingKey,
        pkcs8,
      ),
    );
    const { kty, crv, x, y } = await subtle.exportKey('jwk', pair.publicKey);
    return {
      purpose,
      publicJwk: JSON.stringify({ kty, crv, x, y }),
      wrappedPrivate: toBase64Url(concatBytes(iv, sealed)),
      createdAt: now,
    };
  } finally {
    pkcs8.fill(0);
  }
}

const AUDIT_KEY_INFO = 'audit chain';
const AUDIT_KEY_AAD = 'custodian audit chain key';

function wrappingKeyOf(masterKey: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return derive(masterKey, 'site private keys', { name: 'AES-GCM', length: 256 }, [
    'encrypt',
    'decrypt',
  ]);
}

async function seal(plain: Uint8Array<ArrayBuffer>, key: CryptoKey, aad: string): Promise<string> {
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: utf8(aad) }, key, plain),
  );
  return toBase64Url(concatBytes(iv, sealed));
}

async function unseal(
  sealedText: string,
  key: CryptoKey,
  aad: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const sealed = fromBase64Url(sealedText);
  try {
    return new Uint8Array(
      await subtle.decrypt(
        { name: 'AES-GCM', iv: sealed.slice(0, 12), additionalData: utf8(aad) },
        key,
        sealed.slice(12),
      ),
    );
  } catch {
    throw new SiteKeyError(
      "The master key does not open this site's keys: CUSTODIAN_MASTER_KEY_FILE names the wrong key for this data directory.",
    );
  }
}

/**
 * The raw audit chain key. A site whose master key was never rotated derives
 * it from the master key; after a rotation it is kept sealed under the new
 * master key (`sealedAuditKey`), so the chain written before still verifies.
 */
async function auditKeyBytes(
  masterKey: Uint8Array<ArrayBuffer>,
  wrappingKey: CryptoKey,
  sealedAuditKey: string | undefined,
): Promise<Uint8Array<ArrayBuffer>> {
  if (sealedAuditKey) return unseal(sealedAuditKey, wrappingKey, AUDIT_KEY_AAD);
  const base = await subtle.importKey('raw', masterKey, 'HKDF', false, ['deriveBits']);
  // The same bits deriveKey gives an HMAC key of 256 bits.
  return new Uint8Array(
    await subtle.deriveBits(
      {
        name: 'HKDF',
        hash: 'SHA-256',
        salt: utf8('custodian master key v1'),
        info: utf8(AUDIT_KEY_INFO),
      },
      base,
      256,
    ),
  );
}

/** Opens the site's keys, creating them at the first start. */
export async function loadSiteKeys(
  repo: SiteKeyRepository,
  masterKey: Uint8Array<ArrayBuffer>,
  now: () => string,
  sealedAuditKey?: string,
): Promise<SiteKeys> {
  const wrappingKey = await wrappingKeyOf(masterKey);
  let auditKey: CryptoKey;
  if (sealedAuditKey) {
    const raw = await auditKeyBytes(masterKey, wrappingKey, sealedAuditKey);
    try {
      auditKey = await subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
        'sign',
        'verify',
      ]);
    } finally {
      raw.fill(0);
    }
  } else {
    auditKey = await derive(
      masterKey,
      AUDIT_KEY_INFO,
      { name: 'HMAC', hash: 'SHA-256', length: 256 },
      ['sign', 'verify'],
    );
  }
  let stored = await repo.list();
  for (const purpose of ['escrow', 'signing'] as const) {
    if (!stored.some((k) => k.purpose === purpose)) {
      await repo.insert(await createPair(purpose, wrappingKey, now()));
    }
  }
  stored = await repo.list();
  const find = (purpose: 'escrow' | 'signing'): StoredSiteKey =>
    stored.find((k) => k.purpose === purpose)!;
  return {
    escrow: await openPair(find('escrow'), wrappingKey),
    signing: await openPair(find('signing'), wrappingKey),
    auditKey,
  };
}

/**
 * Master key rotation: everything the old master key protects, sealed again
 * under the new one. The site's private keys are the same keys (their
 * fingerprints do not change), and the audit chain key is the same key, now
 * kept sealed rather than derived, so every entry written before verifies.
 */
export async function rewrapSiteKeys(
  stored: readonly StoredSiteKey[],
  sealedAuditKey: string | undefined,
  oldMasterKey: Uint8Array<ArrayBuffer>,
  newMasterKey: Uint8Array<ArrayBuffer>,
): Promise<{ keys: StoredSiteKey[]; sealedAuditKey: string }> {
  const oldWrapping = await wrappingKeyOf(oldMasterKey);
  const newWrapping = await wrappingKeyOf(newMasterKey);
  const keys: StoredSiteKey[] = [];
  for (const key of stored) {
    const aad = `custodian site key ${key.purpose}`;
    const pkcs8 = await unseal(key.wrappedPrivate, oldWrapping, aad);
    try {
      keys.push({ ...key, wrappedPrivate: await seal(pkcs8, newWrapping, aad) });
    } finally {
      pkcs8.fill(0);
    }
  }
  const audit = await auditKeyBytes(oldMasterKey, oldWrapping, sealedAuditKey);
  try {
    return { keys, sealedAuditKey: await seal(audit, newWrapping, AUDIT_KEY_AAD) };
  } finally {
    audit.fill(0);
  }
}
