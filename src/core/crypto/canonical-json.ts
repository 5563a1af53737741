/**
 * JSON Canonicalization Scheme (RFC 8785): one byte string per JSON value,
 * so that signatures and hashes over JSON do not depend on who serialized it.
 */

import canonicalize from 'canonicalize';
import { fromUtf8, utf8 } from './bytes';

/** A JSON value as the formats of this module use it. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue | undefined };

/**
 * RFC 8785 canonical form of `value`, as UTF-8 bytes. Object members whose
 * value is `undefined` are left out (as JSON.stringify does); anything else
 * that is not plain JSON (functions, bigint, non-finite numbers, class
 * instances) throws a TypeError rather than being silently converted.
 */
export function canonicalJson(value: JsonValue): Uint8Array<ArrayBuffer> {
  assertPlainJson(value, '$');
  const text = canonicalize(value);
  if (text === undefined) {
    throw new TypeError('This value has no JSON form.');
  }
  return utf8(text);
}

/** Parses UTF-8 JSON bytes (strict UTF-8). Throws SyntaxError or TypeError. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  return JSON.parse(fromUtf8(bytes));
}

function assertPlainJson(value: unknown, path: string): void {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${path} is not a finite number.`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertPlainJson(item, `${path}[${i}]`));
    return;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`${path} is not a plain object.`);
    }
    for (const [key, member] of Object.entries(value)) {
      if (member !== undefined) assertPlainJson(member, `${path}.${key}`);
    }
    return;
  }
  throw new TypeError(`${path} is not a JSON value.`);
}
