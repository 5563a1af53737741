// Under jsdom the page's Uint8Array is not Node's, while Node's TextEncoder
// returns Node's: libraries that check `instanceof Uint8Array` (jose) would
// refuse text the page encoded. Encoded text belongs to the page here, as in
// a browser.
const NodeTextEncoder = globalThis.TextEncoder;
globalThis.TextEncoder = class extends NodeTextEncoder {
  override encode(input?: string): Uint8Array<ArrayBuffer> {
    return new Uint8Array(super.encode(input));
  }
};

export {};
