// The typing of 'qrcode' must reach every program that compiles this module (tests too).
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./qrcode.d.ts" />
import { create } from 'qrcode';

/** A QR symbol as one SVG path of unit squares, `size` modules per side. */
export interface QrSymbol {
  readonly size: number;
  readonly path: string;
}

/**
 * Encodes `text` (byte mode, error correction M: a printed page may be
 * scuffed) and draws its dark modules as one path, so the page needs neither
 * a canvas nor inline images (RS-10).
 */
export function qrSymbol(text: string): QrSymbol {
  const { modules } = create(text, { errorCorrectionLevel: 'M' });
  const parts: string[] = [];
  for (let row = 0; row < modules.size; row++) {
    for (let column = 0; column < modules.size; column++) {
      if (modules.get(row, column)) parts.push(`M${column} ${row}h1v1h-1z`);
    }
  }
  return { size: modules.size, path: parts.join('') };
}
