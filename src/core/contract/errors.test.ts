import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../../mock-server/src/domain/errors';
import { alertMessageCodes } from './alerts';
import { errorCodes } from './errors';

const siteSources = path.resolve(import.meta.dirname, '../../../mock-server/src');

/** Every error code written in the site's own sources: refusals and HTTP error bodies. */
function codesTheSiteSends(): Set<string> {
  const codes = new Set<string>();
  const files = readdirSync(siteSources, { recursive: true, encoding: 'utf8' }).filter(
    (file) => file.endsWith('.ts') && !file.endsWith('.test.ts'),
  );
  for (const file of files) {
    const text = readFileSync(path.join(siteSources, file), 'utf8');
    for (const match of text.matchAll(
      /(?:DomainError|refuse)\(\s*'([a-z_]+)'|\bcode: '([a-z_]+)'/g,
    )) {
      codes.add(match[1] ?? match[2]!);
    }
  }
  return codes;
}

describe('the error catalogue of the contract', () => {
  it('holds every code the site sends', () => {
    const sent = codesTheSiteSends();
    expect(sent.size).toBeGreaterThan(40);
    // Alerts' messages (`message: { code: … }`) have their own catalogue, checked by the type system.
    const known = new Set<string>([...errorCodes, ...alertMessageCodes]);
    expect([...sent].filter((code) => !known.has(code))).toEqual([]);
  });

  it('lists each code once', () => {
    expect(new Set(errorCodes).size).toBe(errorCodes.length);
  });

  it("types the site's refusals with it", () => {
    expect(new DomainError('pair_not_found', 'No such pair.', 404).code).toBe('pair_not_found');
    // @ts-expect-error A code outside the catalogue does not compile.
    expect(new DomainError('no_such_code', 'Unknown.', 400).code).toBe('no_such_code');
  });
});
