/**
 * The parts of docs/FORMAT.md the independent decoder needs, written again
 * from the document with node:crypto only: RFC 8785 canonical JSON for the
 * restricted values the format uses, and structural checks of the manifest
 * and the keys file. Nothing here is shared with src/core on purpose: the
 * decoder is a second implementation that proves the document suffices.
 */

export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * RFC 8785 for the values of this format: strings, integers, booleans, null,
 * arrays and objects. Strings are written as ECMAScript's JSON.stringify
 * writes them (RFC 8785 §3.2.2.2); members are sorted by UTF-16 code units
 * (§3.2.3), which is what Array.prototype.sort does with strings.
 */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new DecodeError(`the format only has integers, found ${value}`);
    }
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const members = Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key]!)}`);
  return `{${members.join(',')}}`;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export interface ChunkEntry {
  chunkId: string;
  ciphertextSha256: string;
  length: number;
  epoch: number;
}

export interface Manifest {
  type: 'custodian-manifest';
  index: {
    format: 1;
    volumeId: string;
    generation: number;
    previousManifestHash: string | null;
    chunkSize: number;
    chunks: ChunkEntry[];
    createdAt: string;
    deviceKeyFingerprint: string;
    /** The sites that keep the keys, whole or in shares (FORMAT.md §6.1, §8.1). */
    escrow?: EscrowSites;
  };
  sealed: { epoch: number; nonce: string; ciphertext: string };
  signature: string;
}

export interface EscrowSites {
  threshold: number;
  sites: { siteId: string; fingerprint: string }[];
}

export interface KeysFile {
  type: 'custodian-keys-file';
  format: 1;
  volumeId: string;
  chunkIdKey: string;
  dataKeys: { epoch: number; key: string }[];
  devicePublicKeys: string[];
}

/** One key's share in a key-share file: 32 bytes of y, then the x coordinate. */
export interface KeyShareFile {
  type: 'custodian-key-share-file';
  format: 1;
  volumeId: string;
  siteId: string;
  threshold: number;
  shares: number;
  chunkIdKey: string;
  chunkIdKeyCheck: string;
  dataKeys: { epoch: number; key: string; check: string }[];
  devicePublicKeys: string[];
}

export interface ManifestSecret {
  imageSha256: string;
  fileName: string;
  size: number;
}

function fail(what: string, problem: string): never {
  throw new DecodeError(`${what}: ${problem}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function exactMembers(what: string, value: unknown, members: string[]): Record<string, unknown> {
  if (!isObject(value)) fail(what, 'expected a JSON object');
  const extra = Object.keys(value).filter((k) => !members.includes(k));
  if (extra.length) fail(what, `unexpected member "${extra[0]}"`);
  const missing = members.filter((k) => !(k in value));
  if (missing.length) fail(what, `missing member "${missing[0]}"`);
  return value;
}

/** Like exactMembers, but the members of `optional` may be left out. */
function members(
  what: string,
  value: unknown,
  required: string[],
  optional: string[],
): Record<string, unknown> {
  if (!isObject(value)) fail(what, 'expected a JSON object');
  const extra = Object.keys(value).filter((k) => !required.includes(k) && !optional.includes(k));
  if (extra.length) fail(what, `unexpected member "${extra[0]}"`);
  const missing = required.filter((k) => !(k in value));
  if (missing.length) fail(what, `missing member "${missing[0]}"`);
  return value;
}

function integer(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(what, `expected an integer from ${min} to ${max}`);
  }
  return value;
}

function hex64(what: string, value: unknown): string {
  if (typeof value !== 'string' || !HEX64.test(value))
    fail(what, 'expected 64 lower-case hex digits');
  return value;
}

/** base64url without padding, decoded; `bytes` checks the decoded length. */
export function base64url(what: string, value: unknown, bytes?: number): Buffer {
  if (typeof value !== 'string' || !BASE64URL.test(value) || value.length % 4 === 1) {
    fail(what, 'expected base64url text');
  }
  const decoded = Buffer.from(value, 'base64url');
  if (decoded.toString('base64url') !== value) fail(what, 'not canonical base64url');
  if (bytes !== undefined && decoded.length !== bytes) fail(what, `expected ${bytes} bytes`);
  return decoded;
}

const MAX_EPOCH = 0xffffffff;

export function checkManifest(value: unknown): Manifest {
  const top = exactMembers('manifest', value, ['type', 'index', 'sealed', 'signature']);
  if (top.type !== 'custodian-manifest') fail('manifest', 'type is not "custodian-manifest"');
  const index = members(
    'manifest index',
    top.index,
    [
      'format',
      'volumeId',
      'generation',
      'previousManifestHash',
      'chunkSize',
      'chunks',
      'createdAt',
      'deviceKeyFingerprint',
    ],
    ['escrow'],
  );
  if (index.format !== 1) fail('manifest index', `format ${String(index.format)} is not 1`);
  if (typeof index.volumeId !== 'string' || index.volumeId.length === 0) {
    fail('manifest index', 'volumeId is not a string');
  }
  integer('manifest generation', index.generation, 1, Number.MAX_SAFE_INTEGER);
  if (index.previousManifestHash !== null)
    hex64('previousManifestHash', index.previousManifestHash);
  const chunkSize = integer('manifest chunkSize', index.chunkSize, 1, 4 * 1024 * 1024);
  if (typeof index.createdAt !== 'string') fail('manifest index', 'createdAt is not a string');
  hex64('deviceKeyFingerprint', index.deviceKeyFingerprint);
  if ('escrow' in index) checkEscrow(index.escrow);
  const chunks = index.chunks;
  if (!Array.isArray(chunks)) fail('manifest index', 'chunks is not an array');
  chunks.forEach((chunk: unknown, i: number) => {
    const entry = exactMembers(`manifest chunk ${i}`, chunk, [
      'chunkId',
      'ciphertextSha256',
      'length',
      'epoch',
    ]);
    hex64(`chunk ${i} chunkId`, entry.chunkId);
    hex64(`chunk ${i} ciphertextSha256`, entry.ciphertextSha256);
    const length = integer(`chunk ${i} length`, entry.length, 1, chunkSize);
    if (i < chunks.length - 1 && length !== chunkSize) {
      fail(`chunk ${i} length`, `every chunk but the last must be ${chunkSize} bytes`);
    }
    integer(`chunk ${i} epoch`, entry.epoch, 0, MAX_EPOCH);
  });
  const sealed = exactMembers('manifest sealed part', top.sealed, ['epoch', 'nonce', 'ciphertext']);
  integer('sealed epoch', sealed.epoch, 0, MAX_EPOCH);
  base64url('sealed nonce', sealed.nonce, 12);
  base64url('sealed ciphertext', sealed.ciphertext);
  base64url('manifest signature', top.signature, 64);
  return value as Manifest;
}

/** FORMAT.md §6.1 `escrow`: k of the listed sites (each once) keep the keys. */
function checkEscrow(value: unknown): void {
  const escrow = exactMembers('manifest escrow', value, ['threshold', 'sites']);
  const sites = escrow.sites;
  if (!Array.isArray(sites) || sites.length < 2 || sites.length > 255) {
    fail('manifest escrow', 'sites must list 2 to 255 sites');
  }
  const threshold = integer('manifest escrow threshold', escrow.threshold, 1, 255);
  if (threshold > sites.length) fail('manifest escrow', 'threshold exceeds the number of sites');
  const ids = new Set<string>();
  sites.forEach((site: unknown, i: number) => {
    const entry = exactMembers(`manifest escrow site ${i}`, site, ['siteId', 'fingerprint']);
    siteId(`manifest escrow site ${i} siteId`, entry.siteId);
    hex64(`manifest escrow site ${i} fingerprint`, entry.fingerprint);
    if (ids.has(entry.siteId as string))
      fail('manifest escrow', `site ${String(entry.siteId)} is listed twice`);
    ids.add(entry.siteId as string);
  });
}

function siteId(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length < 1 || value.length > 128) {
    fail(what, 'expected a site ID of 1 to 128 characters');
  }
  return value;
}

function hex32(what: string, value: unknown): string {
  if (typeof value !== 'string' || !HEX32.test(value)) {
    fail(what, 'expected a key check of 32 lower-case hex digits');
  }
  return value;
}

/** The type of a keys file or key-share file, read before checking the rest. */
export function keysFileType(value: unknown): unknown {
  return isObject(value) ? value.type : undefined;
}

function checkDevicePublicKeys(what: string, value: unknown): void {
  if (!Array.isArray(value) || value.length === 0) {
    fail(what, 'devicePublicKeys must list at least one key');
  }
  value.forEach((spki: unknown, i: number) => base64url(`${what} devicePublicKeys[${i}]`, spki));
}

/** FORMAT.md §9 "Key-share file": one site's shares of every key of a volume. */
export function checkKeyShareFile(what: string, value: unknown): KeyShareFile {
  const file = exactMembers(what, value, [
    'type',
    'format',
    'volumeId',
    'siteId',
    'threshold',
    'shares',
    'chunkIdKey',
    'chunkIdKeyCheck',
    'dataKeys',
    'devicePublicKeys',
  ]);
  if (file.type !== 'custodian-key-share-file') {
    fail(what, 'type is not "custodian-key-share-file"');
  }
  if (file.format !== 1) fail(what, `format ${String(file.format)} is not 1`);
  if (typeof file.volumeId !== 'string' || file.volumeId.length === 0) {
    fail(what, 'volumeId is not a string');
  }
  siteId(`${what} siteId`, file.siteId);
  const threshold = integer(`${what} threshold`, file.threshold, 2, 255);
  const shares = integer(`${what} shares`, file.shares, 2, 255);
  if (threshold > shares) fail(what, 'threshold exceeds shares');
  base64url(`${what} chunkIdKey`, file.chunkIdKey, 33);
  hex32(`${what} chunkIdKeyCheck`, file.chunkIdKeyCheck);
  const dataKeys = file.dataKeys;
  if (!Array.isArray(dataKeys)) fail(what, 'dataKeys is not an array');
  dataKeys.forEach((entry: unknown, i: number) => {
    const key = exactMembers(`${what} dataKeys[${i}]`, entry, ['epoch', 'key', 'check']);
    const epoch = integer(`${what} dataKeys[${i}].epoch`, key.epoch, 0, MAX_EPOCH);
    if (i > 0 && (dataKeys[i - 1] as { epoch: number }).epoch >= epoch) {
      fail(what, 'dataKeys must be in ascending epoch order, each epoch once');
    }
    base64url(`${what} dataKeys[${i}].key`, key.key, 33);
    hex32(`${what} dataKeys[${i}].check`, key.check);
  });
  checkDevicePublicKeys(what, file.devicePublicKeys);
  return value as KeyShareFile;
}

export function checkKeysFile(value: unknown): KeysFile {
  const file = exactMembers('keys file', value, [
    'type',
    'format',
    'volumeId',
    'chunkIdKey',
    'dataKeys',
    'devicePublicKeys',
  ]);
  if (file.type !== 'custodian-keys-file') fail('keys file', 'type is not "custodian-keys-file"');
  if (file.format !== 1) fail('keys file', `format ${String(file.format)} is not 1`);
  if (typeof file.volumeId !== 'string') fail('keys file', 'volumeId is not a string');
  base64url('keys file chunkIdKey', file.chunkIdKey, 32);
  const dataKeys = file.dataKeys;
  if (!Array.isArray(dataKeys)) fail('keys file', 'dataKeys is not an array');
  dataKeys.forEach((entry: unknown, i: number) => {
    const key = exactMembers(`keys file dataKeys[${i}]`, entry, ['epoch', 'key']);
    const epoch = integer(`keys file dataKeys[${i}].epoch`, key.epoch, 0, MAX_EPOCH);
    if (i > 0 && (dataKeys[i - 1] as { epoch: number }).epoch >= epoch) {
      fail('keys file', 'dataKeys must be in ascending epoch order, each epoch once');
    }
    base64url(`keys file dataKeys[${i}].key`, key.key, 32);
  });
  checkDevicePublicKeys('keys file', file.devicePublicKeys);
  return value as KeysFile;
}

export function checkSecret(value: unknown): ManifestSecret {
  if (!isObject(value)) fail('sealed part', 'expected a JSON object');
  const known = ['imageSha256', 'fileName', 'size', 'volumeKind'];
  const extra = Object.keys(value).filter((k) => !known.includes(k));
  if (extra.length) fail('sealed part', `unexpected member "${extra[0]}"`);
  hex64('sealed imageSha256', value.imageSha256);
  if (typeof value.fileName !== 'string') fail('sealed part', 'fileName is not a string');
  integer('sealed size', value.size, 0, Number.MAX_SAFE_INTEGER);
  if ('volumeKind' in value && typeof value.volumeKind !== 'string') {
    fail('sealed part', 'volumeKind is not a string');
  }
  return value as unknown as ManifestSecret;
}

export type { Json };
