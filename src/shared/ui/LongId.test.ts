import { flushPromises, mount } from '@vue/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createConsoleI18n } from '@/app/i18n';
import LongId from './LongId.vue';

const VOLUME = 'iso9660:CUSTODIAN_DEMO_DISC_2026:2026-11-21-13-30-00-00';

function mountId(value: string, compact?: boolean) {
  return mount(LongId, {
    props: { value, ...(compact === undefined ? {} : { compact }) },
    global: { plugins: [createConsoleI18n('en')] },
    attachTo: document.body,
  });
}

afterEach(() => {
  document.body.innerHTML = '';
  vi.unstubAllGlobals();
});

describe('LongId', () => {
  it('keeps the whole ID for screen readers, shows it shortened in the middle beside it, and copies the whole ID', async () => {
    const writeText = vi.fn(async () => undefined);
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    const wrapper = mountId(VOLUME);
    expect(wrapper.find('.whole').text()).toBe(VOLUME);
    const short = wrapper.find('.short');
    expect(short.attributes('aria-hidden')).toBe('true');
    expect(short.text()).toBe('iso9660:CUSTOD…3-30-00-00');
    const copy = wrapper.get('button');
    expect(copy.attributes('aria-label')).toBe(`Copy ${VOLUME}`);
    await copy.trigger('click');
    await flushPromises();
    expect(writeText).toHaveBeenCalledWith(VOLUME);
    expect(wrapper.find('[role="status"]').text()).toBe('Copied');
  });

  it('is shortened at every width when compact, and only then', () => {
    expect(mountId(VOLUME, true).classes()).toEqual(['long-id', 'shortened', 'compact']);
    expect(mountId(VOLUME).classes()).toEqual(['long-id', 'shortened']);
    // A short ID has nothing to shorten, compact or not.
    expect(mountId('ext4:short', true).findAll('code')).toHaveLength(1);
  });

  it('shows a short ID whole and only once', () => {
    const wrapper = mountId('ext4:short');
    expect(wrapper.findAll('code').map((c) => c.text())).toEqual(['ext4:short']);
    expect(wrapper.classes()).not.toContain('shortened');
  });
});
