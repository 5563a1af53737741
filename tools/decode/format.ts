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
  };
  sealed: { epoch: number; nonce: string; ciphertext: string };
  signature: string;
}

export interface KeysFile {
  type: 'custodian-keys-file';
  format: 1;
  volumeId: string;
  chunkIdKey: string;
  dataKeys: { epoch: number; key: string }[];
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
  const index = exactMembers('manifest index', top.index, [
    'format',
    'volumeId',
    'generation',
    'previousManifestHash',
    'chunkSize',
    'chunks',
    'createdAt',
    'deviceKeyFingerprint',
  ]);
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
  const devicePublicKeys = file.devicePublicKeys;
  if (!Array.isArray(devicePublicKeys) || devicePublicKeys.length === 0) {
    fail('keys file', 'devicePublicKeys must list at least one key');
  }
  devicePublicKeys.forEach((spki: unknown, i: number) =>
    base64url(`keys file devicePublicKeys[${i}]`, spki),
  );
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
