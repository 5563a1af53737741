/**
 * Turning on-disk label bytes into text the way blkid does, so that a label
 * reads verbatim as `blkid` shows it (BK-2 "labels verbatim").
 *
 * blkid keeps a label's raw bytes, cuts them at the first NUL and strips
 * trailing C-locale white space (its `blkid_rtrim_whitespace`); nothing else
 * is trimmed or case-folded. Raw bytes become text as UTF-8 when they are
 * valid UTF-8 (what mkfs tools write for non-ASCII labels), otherwise one
 * character per byte (Latin-1), so that every distinct label stays distinct.
 */

const C_SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const utf8 = new TextDecoder('utf-8', { fatal: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Raw bytes as text: UTF-8 when valid, else byte-for-byte. */
export function bytesAsText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return String.fromCharCode(...bytes);
  }
}

function trimmedCString(bytes: Uint8Array): Uint8Array {
  const nul = bytes.indexOf(0);
  let end = nul === -1 ? bytes.length : nul;
  while (end > 0 && C_SPACE.has(bytes[end - 1] ?? 0)) end--;
  return bytes.subarray(0, end);
}

/** A fixed-size label field as blkid's LABEL; undefined when blank. */
export function byteLabel(field: Uint8Array): string | undefined {
  const text = trimmedCString(field);
  return text.length === 0 ? undefined : bytesAsText(text);
}

/**
 * A UTF-16BE label field (Joliet, ISO 9660 supplementary descriptor) as
 * blkid's LABEL: decoding stops at U+0000, trailing white space is
 * stripped; undefined when blank.
 */
export function utf16beLabel(field: Uint8Array): string | undefined {
  let text = '';
  for (let i = 0; i + 1 < field.length; i += 2) {
    const unit = ((field[i] ?? 0) << 8) | (field[i + 1] ?? 0);
    if (unit === 0) break;
    text += String.fromCharCode(unit);
  }
  const trimmed = text.replace(LONE_SURROGATE, '\uFFFD').replace(/[ \t\n\v\f\r]+$/, '');
  return trimmed.length === 0 ? undefined : trimmed;
}
