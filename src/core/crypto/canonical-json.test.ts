import { describe, expect, it } from 'vitest';
import { fromUtf8 } from './bytes';
import { canonicalJson } from './canonical-json';

describe('canonicalJson (RFC 8785)', () => {
  it('sorts members by UTF-16 code units and writes numbers and strings as ES does', () => {
    // RFC 8785 §3.2.3 sorting example, reduced.
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew',
      '1': 'One',
      '\u00e9': 'e',
    };
    expect(fromUtf8(canonicalJson(value))).toBe(
      '{"\\r":"Carriage Return","1":"One","\u00e9":"e","\u20ac":"Euro Sign","\ufb33":"Hebrew"}',
    );
    expect(fromUtf8(canonicalJson({ b: [1e21, 0.1, -0], a: null, c: true }))).toBe(
      '{"a":null,"b":[1e+21,0.1,0],"c":true}',
    );
  });

  it('leaves out undefined members and refuses what JSON cannot say', () => {
    expect(fromUtf8(canonicalJson({ a: undefined, b: 1 }))).toBe('{"b":1}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ a: new Date() } as never)).toThrow(/plain object/);
    expect(() => canonicalJson({ a: 1n } as never)).toThrow(TypeError);
  });
});
