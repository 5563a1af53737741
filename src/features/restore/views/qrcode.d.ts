/**
 * The part of the `qrcode` package (1.5.x) the recovery kit uses: the symbol
 * as a matrix of modules, drawn by the console itself as SVG (RS-10). Typed
 * here rather than through @types/qrcode, which would bring Node's globals
 * into the console's type checking.
 */
declare module 'qrcode' {
  export interface BitMatrix {
    /** Modules per side. */
    readonly size: number;
    /** Truthy for a dark module. */
    get(row: number, column: number): number | boolean;
  }

  export interface QRCode {
    readonly modules: BitMatrix;
    readonly version: number;
  }

  export function create(
    text: string,
    options?: { errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H' },
  ): QRCode;
}
