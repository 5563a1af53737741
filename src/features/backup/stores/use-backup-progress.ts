/**
 * The figures of a running backup as the screen shows them (BK-6): the
 * engine's latest snapshot, bytes done out of the image, the rate over a
 * recent window and the time left at that rate, each null until the meter
 * can say it honestly (progress-meter.ts).
 */

import { computed, ref, shallowRef, type Ref } from 'vue';
import { RATE_WINDOW_MS } from '@/features/backup/engine/backup-tuning';
import { ProgressMeter } from '@/features/backup/worker/progress-meter';
import type { BackupSnapshot } from '../engine/backup-runner';

export function useBackupProgress(imageSize: () => number, running: Ref<boolean>) {
  const snapshot = shallowRef<BackupSnapshot | null>(null);
  const bytesPerSecond = ref<number | null>(null);
  const estimate = ref<number | null>(null);
  let meter = new ProgressMeter(RATE_WINDOW_MS);

  const totalBytes = computed(() => snapshot.value?.totalBytes ?? imageSize());
  const bytesDone = computed(() => snapshot.value?.bytesConfirmed ?? 0);
  const fraction = computed(() => (totalBytes.value > 0 ? bytesDone.value / totalBytes.value : 0));
  const secondsLeft = computed(() => (running.value ? estimate.value : null));

  function onSnapshot(next: BackupSnapshot): void {
    const previous = snapshot.value;
    snapshot.value = next;
    if (previous?.paused && !next.paused) meter.reset();
    meter.sample(Date.now(), next.bytesConfirmed);
    bytesPerSecond.value = meter.bytesPerSecond();
    estimate.value = meter.secondsLeft(next.totalBytes - next.bytesConfirmed);
  }

  /** The rate starts afresh (after a pause). */
  function restartRate(): void {
    meter.reset();
    bytesPerSecond.value = null;
    estimate.value = null;
  }

  function reset(): void {
    snapshot.value = null;
    bytesPerSecond.value = null;
    estimate.value = null;
    meter = new ProgressMeter(RATE_WINDOW_MS);
  }

  return {
    snapshot,
    bytesPerSecond,
    totalBytes,
    bytesDone,
    fraction,
    secondsLeft,
    onSnapshot,
    restartRate,
    reset,
  };
}
