/// <reference types="vite/client" />
import { describe, expect, it } from 'vitest';
import { errorCodes } from '@/core/contract';
import { en } from './en';
import { ja } from './ja';
import { detectLocale, LOCALE_STORAGE_KEY } from './locale';

type Catalog = { readonly [key: string]: string | Catalog };

function keysOf(catalog: Catalog, prefix = ''): string[] {
  return Object.entries(catalog).flatMap(([key, value]) =>
    typeof value === 'string' ? [prefix + key] : keysOf(value, `${prefix}${key}.`),
  );
}

function lookup(catalog: Catalog, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((node, key) => (node as Catalog | undefined)?.[key], catalog);
}

const sources = import.meta.glob(['/src/**/*.vue', '/src/app/router/*.ts', '/src/app/i18n/*.ts'], {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

describe('message catalogs', () => {
  it('give Japanese every English key, with text', () => {
    expect(keysOf(ja).sort()).toEqual(keysOf(en).sort());
    for (const key of keysOf(ja)) expect(lookup(ja, key), key).not.toBe('');
  });

  it('explain every error code of the contract', () => {
    for (const code of errorCodes) {
      expect(en.errors[code], code).toBeTruthy();
      expect(ja.errors[code], code).toBeTruthy();
    }
  });

  it('contain every key the console uses', () => {
    const roots = Object.keys(en).join('|');
    const pattern = new RegExp(`['"\`]((?:${roots})\\.[A-Za-z_.]+)['"\`]`, 'g');
    const used = new Set<string>();
    for (const source of Object.values(sources)) {
      for (const match of source.matchAll(pattern)) used.add(match[1]!);
    }
    expect(used.size).toBeGreaterThan(50);
    for (const key of used) expect(typeof lookup(en, key), key).toBe('string');
  });
});

describe('detectLocale', () => {
  it('follows the browser: ja* is Japanese, anything else English', () => {
    expect(detectLocale(['ja-JP', 'en'])).toBe('ja');
    expect(detectLocale(['ja'])).toBe('ja');
    expect(detectLocale(['fr-FR', 'ja'])).toBe('en');
    expect(detectLocale([])).toBe('en');
  });

  it('prefers the remembered choice', () => {
    localStorage.setItem(LOCALE_STORAGE_KEY, 'en');
    expect(detectLocale(['ja-JP'])).toBe('en');
    localStorage.setItem(LOCALE_STORAGE_KEY, 'xx');
    expect(detectLocale(['ja-JP'])).toBe('ja');
  });
});
