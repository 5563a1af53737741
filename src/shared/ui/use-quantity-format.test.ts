import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import { defineComponent } from 'vue';
import { createConsoleI18n, type Locale } from '@/app/i18n';
import { useQuantityFormat } from './use-quantity-format';

const MiB = 1024 * 1024;

function formatIn(locale: Locale): ReturnType<typeof useQuantityFormat> {
  let format: ReturnType<typeof useQuantityFormat> | undefined;
  mount(
    defineComponent({
      setup() {
        format = useQuantityFormat();
        return () => null;
      },
    }),
    { global: { plugins: [createConsoleI18n(locale)] } },
  );
  return format!;
}

describe('the one way sizes and rates are written', () => {
  it('uses binary multiples labelled KiB, MiB, GiB, with three significant figures', () => {
    const format = formatIn('en');
    expect(format.bytes(0)).toBe('0 bytes');
    expect(format.bytes(1023)).toBe('1,023 bytes');
    expect(format.bytes(1024)).toBe('1 KiB');
    expect(format.bytes(5.6 * MiB)).toBe('5.6 MiB');
    expect(format.bytes(5_872_025)).toBe('5.6 MiB');
    expect(format.bytes(16.8 * MiB)).toBe('16.8 MiB');
    expect(format.bytes(160 * MiB)).toBe('160 MiB');
    expect(format.bytes(1.5 * 1024 * MiB)).toBe('1.5 GiB');
    // A decimal megabyte is not a MiB.
    expect(format.bytes(2_000_000)).toBe('1.91 MiB');
  });

  it('writes rates in the same units per second', () => {
    const format = formatIn('en');
    expect(format.rate(512)).toBe('512 B/s');
    expect(format.rate(48.3 * MiB)).toBe('48.3 MiB/s');
  });

  it('writes numbers as the reader’s language does', () => {
    const format = formatIn('ja');
    expect(format.bytes(100)).toBe('100 バイト');
    expect(format.bytes(1234.5 * MiB)).toBe('1.21 GiB');
    expect(format.duration(42)).toBe('42 秒');
  });
});
