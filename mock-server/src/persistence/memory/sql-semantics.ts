/**
 * The few pieces of SQL behaviour the SQLite repositories lean on, so that
 * the in-memory repositories answer exactly as the site does: text order,
 * LIKE, LIMIT/OFFSET and constraint failures.
 */

/** A uniqueness or reference the database would refuse (SQLite's SQLITE_CONSTRAINT). */
export class ConstraintError extends Error {
  override readonly name = 'ConstraintError';
}

/**
 * SQLite's BINARY collation: UTF-8 bytes compared as with memcmp, which is
 * code-point order. JavaScript's `<` compares UTF-16 code units and puts
 * U+E000..U+FFFF after the surrogates of U+10000 and above, so those are
 * remapped before comparing.
 */
export function compareText(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Orders by each key in turn, as a multi-column ORDER BY does. */
export function byKeys<T>(
  ...keys: readonly { readonly of: (row: T) => string | number; readonly desc?: boolean }[]
): (a: T, b: T) => number {
  return (a, b) => {
    for (const key of keys) {
      const x = key.of(a);
      const y = key.of(b);
      const order =
        typeof x === 'string' && typeof y === 'string' ? compareText(x, y) : Number(x) - Number(y);
      if (order !== 0) return key.desc ? -order : order;
    }
    return 0;
  };
}

/** ASCII letters folded to lower case and nothing else, as SQLite's default LIKE does. */
function foldAscii(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/**
 * `text LIKE '%needle%' ESCAPE '\'` with every wildcard of the needle
 * escaped: a substring test, case-insensitive for ASCII letters only.
 */
export function containsLike(text: string, needle: string): boolean {
  return foldAscii(text).includes(foldAscii(needle));
}

/** LIMIT `limit` OFFSET `offset`: a negative limit means none, a negative offset means 0. */
export function limitOffset<T>(rows: readonly T[], limit: number, offset: number): T[] {
  const start = Math.max(0, offset);
  return limit < 0 ? rows.slice(start) : rows.slice(start, start + limit);
}
