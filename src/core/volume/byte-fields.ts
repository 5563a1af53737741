/** Little-endian fields, GUIDs and hex as on-disk structures store them. */

export function le16(bytes: Uint8Array, at: number): number {
  return (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
}

export function le32(bytes: Uint8Array, at: number): number {
  return (le16(bytes, at) | (le16(bytes, at + 2) << 16)) >>> 0;
}

/** A 64-bit little-endian field, or undefined when it does not fit a safe integer. */
export function le64(bytes: Uint8Array, at: number): number | undefined {
  const high = le32(bytes, at + 4);
  if (high > 0x1fffff) return undefined;
  return high * 0x1_0000_0000 + le32(bytes, at);
}

export function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export function isAllZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

export function equalsAscii(bytes: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (bytes[at + i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** A UUID stored as 16 bytes in order (ext superblock), lowercase 8-4-4-4-12. */
export function uuidText(bytes: Uint8Array): string {
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * A GUID in the mixed-endian layout of UEFI 2.10 Appendix A (first three
 * fields little-endian), lowercase 8-4-4-4-12 as blkid prints GPT PTUUIDs.
 */
export function guidText(bytes: Uint8Array): string {
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return uuidText(Uint8Array.from(order, (i) => bytes[i] ?? 0));
}
