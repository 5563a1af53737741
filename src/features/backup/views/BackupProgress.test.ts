import { mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import { describe, expect, it, vi } from 'vitest';
import { reactive } from 'vue';
import { createConsoleI18n, type Locale } from '@/app/i18n';
import type { BackupSnapshot } from '@/features/backup/engine/backup-runner';
import BackupProgress from './BackupProgress.vue';

const MiB = 1024 * 1024;

// The figures the store would hold at one moment of a run; each test sets them.
const store = reactive({
  phase: 'running',
  snapshot: null as Partial<BackupSnapshot> | null,
  fraction: 0,
  bytesDone: 0,
  totalBytes: 160 * MiB,
  bytesPerSecond: null as number | null,
  secondsLeft: null as number | null,
  canPause: true,
  canResume: false,
  canCancel: true,
});
vi.mock('@/features/backup/stores/backup', () => ({ useBackupStore: () => store }));

function render(locale: Locale = 'en'): string {
  const wrapper = mount(BackupProgress, {
    global: { plugins: [createConsoleI18n(locale), PrimeVue] },
  });
  const text =
    wrapper.find('.figures').text() +
    ' | ' +
    wrapper.find('[role="progressbar"]').attributes('aria-valuetext');
  wrapper.unmount();
  return text;
}

describe('backup progress (BK-7): honest figures', () => {
  it('names the stage and says the speed is being measured while the first chunks encrypt', () => {
    Object.assign(store, {
      snapshot: { stage: 'encrypting', bytesStored: 8 * MiB, bytesConfirmed: 0 },
      bytesDone: 0,
      bytesPerSecond: null,
      secondsLeft: null,
    });
    const text = render();
    expect(text).toContain('Reading and encrypting');
    expect(text).toContain('0 bytes of 160 MiB at the site');
    expect(text).toContain('measuring the speed…');
    expect(text).toContain('time left not known yet');
    expect(text).not.toMatch(/B\/s/);
  });

  it('shows the rate in MiB/s and the time left once the meter has them', () => {
    Object.assign(store, {
      snapshot: { stage: 'sending', bytesStored: 160 * MiB, bytesConfirmed: 40 * MiB },
      bytesDone: 40 * MiB,
      bytesPerSecond: 12.5 * MiB,
      secondsLeft: 9.6,
    });
    const text = render();
    expect(text).toContain('Uploading');
    expect(text).toContain('40 MiB of 160 MiB at the site');
    expect(text).toContain('12.5 MiB/s');
    expect(text).toContain('about 9.6 sec left');
  });

  it('speaks of the receipt, not of time left, once everything is sent', () => {
    Object.assign(store, {
      snapshot: { stage: 'committing', bytesStored: 160 * MiB, bytesConfirmed: 160 * MiB },
      bytesDone: 160 * MiB,
      bytesPerSecond: 12.5 * MiB,
      secondsLeft: 0,
    });
    const text = render();
    expect(text).toContain('Verifying the receipt');
    expect(text).not.toContain('left');
  });

  it('says the same in Japanese', () => {
    Object.assign(store, {
      snapshot: { stage: 'encrypting', bytesStored: 0, bytesConfirmed: 0 },
      bytesDone: 0,
      bytesPerSecond: null,
      secondsLeft: null,
    });
    const text = render('ja');
    expect(text).toContain('読み込みと暗号化');
    expect(text).toContain('速度を測定中');
    expect(text).toContain('160 MiB');
  });
});
