import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const SERVER_SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** What the offline demo loads in the browser: these and everything they import at run time. */
const ENTRY_POINTS = [
  'site.ts',
  'persistence/repositories.ts',
  'persistence/migrations.ts',
  'persistence/sql-js-database.ts',
  'platform/memory-blob-store.ts',
  'platform/webcrypto-hasher.ts',
  'platform/webcrypto-random.ts',
];

/** Packages that run in a browser as they are. */
const ISOMORPHIC_PACKAGES = new Set([
  'zod',
  'canonicalize',
  'jose',
  'hash-wasm',
  'kysely',
  // Its randomness comes from WebCrypto in a browser (its package.json maps node:crypto away there).
  'shamir-secret-sharing',
]);

/** Module specifiers a file imports at run time (`import type` is erased, the rest stays). */
function runtimeImports(source: string): string[] {
  const found: string[] = [];
  const statement =
    /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const match of source.matchAll(statement)) {
    if (match[5]) found.push(match[5]);
    else if (!match[2]) found.push(match[4]!);
  }
  return found;
}

function resolve(from: string, specifier: string): string {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${from} imports ${specifier}, which is not there`);
}

it('the composition root, the Kysely repositories and the WebCrypto platform load no Node module', () => {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const usesNodeGlobals: string[] = [];
  const queue = ENTRY_POINTS.map((p) => path.join(SERVER_SRC, p));
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (file.endsWith('.json')) continue;
    const source = fs.readFileSync(file, 'utf8');
    // Code, not comments, must not reach for Buffer or process.
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    if (/\b(Buffer|process|require)\b/.test(code)) usesNodeGlobals.push(file);
    for (const specifier of runtimeImports(source)) {
      if (specifier.startsWith('.')) queue.push(resolve(file, specifier));
      else packages.add(specifier);
    }
  }
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  expect([...packages].filter((p) => builtins.has(p) || p.startsWith('node:'))).toEqual([]);
  expect([...packages].filter((p) => !ISOMORPHIC_PACKAGES.has(p.split('/')[0]!))).toEqual([]);
  expect(usesNodeGlobals).toEqual([]);
  // The walk did reach the domain it is meant to check.
  expect([...seen].some((f) => f.endsWith(path.join('domain', 'escrow', 'transfers.ts')))).toBe(
    true,
  );
});
