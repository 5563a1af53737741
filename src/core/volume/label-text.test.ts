import { describe, expect, it } from 'vitest';
import { byteLabel, bytesAsText, utf16beLabel } from './label-text';

const bytes = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));
const utf16be = (text: string) => Uint8Array.from(Buffer.from(text, 'utf16le').swap16());

describe('label text (as blkid reports LABEL)', () => {
  it('reads UTF-8 as UTF-8 and anything else byte for byte', () => {
    expect(bytesAsText(Uint8Array.from(Buffer.from('Données', 'utf8')))).toBe('Données');
    // CP850 "É" (0x90) is not UTF-8: kept as the single character U+0090.
    expect(bytesAsText(Uint8Array.of(0x43, 0x41, 0x46, 0x90))).toBe('CAF\u0090');
  });

  it('cuts at NUL and strips only trailing C white space', () => {
    expect(byteLabel(bytes('  My Disk \t\r\n\v\f  '))).toBe('  My Disk');
    expect(byteLabel(bytes('ABC\0DEF     '))).toBe('ABC');
    expect(byteLabel(bytes('NBSP\u00a0'))).toBe('NBSP\u00a0');
    expect(byteLabel(bytes('           '))).toBeUndefined();
    expect(byteLabel(new Uint8Array(16))).toBeUndefined();
  });

  it('decodes UTF-16BE up to U+0000, with surrogate pairs and lone surrogates replaced', () => {
    const field = new Uint8Array(32);
    field.set(utf16be('Café 🎵'));
    expect(utf16beLabel(field)).toBe('Café 🎵');
    expect(utf16beLabel(Uint8Array.of(0xd8, 0x00, 0x00, 0x41))).toBe('\uFFFDA');
    expect(utf16beLabel(utf16be('AB  '))).toBe('AB');
    expect(utf16beLabel(utf16be('    '))).toBeUndefined();
  });
});
