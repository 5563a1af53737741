/**
 * "Export bundle" for one generation (RS-11, FORMAT.md §16): to a file the operator
 * chooses where the browser can write one (continuing a bundle that file
 * already holds the start of), else as a download. What it shows: progress,
 * then where the bundle went, or why it stopped.
 */

import { computed, ref } from 'vue';
import { useI18n } from 'vue-i18n';
import { bundleFileName, type SignedManifest } from '@/core/crypto';
import { useExplainError } from '@/shared/errors/explain-error';
import { useQuantityFormat } from '@/shared/ui/use-quantity-format';
import { RESTORE_RETRY } from '@/shared/api/restore';
import { canSaveToFile, startDownload } from '../engine/restore-download';
import {
  downloadTarget,
  exportBundle,
  fileTarget,
  type BundleTarget,
  type SaveHandle,
} from '../engine/bundle-export';
import { LocalCopySource, SiteCopySource } from '../worker/restore-sources';
import { loadVerifiedManifest } from '../engine/restore-manifest';

export interface BundleExportState {
  readonly volumeId: string;
  readonly generation: number;
  readonly phase: 'running' | 'done' | 'failed';
  readonly written: number;
  readonly total: number;
  /** Bytes of an earlier, stopped export of the same file that were kept. */
  readonly resumedFrom: number;
  readonly fileName: string;
  /** Saved to a chosen file (true) or handed over as a download. */
  readonly toFile: boolean;
  readonly error: unknown;
}

interface PickerWindow {
  showSaveFilePicker(options: {
    suggestedName: string;
    types: { description: string; accept: Record<string, string[]> }[];
  }): Promise<SaveHandle>;
}

export function useBundleExport() {
  const { t } = useI18n();
  const format = useQuantityFormat();
  const describeError = useExplainError();
  const state = ref<BundleExportState | null>(null);

  /** What the export is doing or did, in the reader's language; empty before the first. */
  const text = computed(() => {
    const current = state.value;
    if (!current) return '';
    const params = {
      generation: current.generation,
      volumeId: current.volumeId,
      file: current.fileName,
      size: format.bytes(current.total),
      written: format.bytes(current.written),
      total: format.bytes(current.total),
      kept: format.bytes(current.resumedFrom),
    };
    if (current.phase === 'running') {
      const resumed = current.resumedFrom > 0 ? ` (${t('bundle.resumed', params)})` : '';
      return t('bundle.running', params) + resumed;
    }
    if (current.phase === 'done') {
      const done = t(current.toFile ? 'bundle.savedToFile' : 'bundle.downloaded', params);
      return current.resumedFrom > 0 ? `${done} ${t('bundle.resumedDone', params)}` : done;
    }
    const failed = t('bundle.failed', { ...params, reason: describeError(current.error) });
    return current.toFile ? `${failed} ${t('bundle.continueHint')}` : failed;
  });

  /**
   * The picker is opened first, while the click still counts as the
   * operator's gesture; the signed manifest is read after.
   */
  async function run(
    volumeId: string,
    generation: number,
    manifestOf: () => Promise<SignedManifest>,
  ): Promise<void> {
    if (state.value?.phase === 'running') return;
    let fileName = bundleFileName({ volumeId, generation });
    let target: BundleTarget;
    const toFile = canSaveToFile();
    if (toFile) {
      let handle: SaveHandle;
      try {
        handle = await (window as unknown as PickerWindow).showSaveFilePicker({
          suggestedName: fileName,
          types: [
            {
              description: 'Custodian bundle',
              accept: { 'application/octet-stream': ['.custodian-bundle'] },
            },
          ],
        });
      } catch (error) {
        // The operator closed the picker: nothing to say.
        if (error instanceof DOMException && error.name === 'AbortError') return;
        state.value = {
          volumeId,
          generation,
          phase: 'failed',
          written: 0,
          total: 0,
          resumedFrom: 0,
          fileName,
          toFile,
          error,
        };
        return;
      }
      target = fileTarget(handle);
      fileName = handle.name;
    } else {
      target = downloadTarget((file) => startDownload(file, fileName));
    }
    state.value = {
      volumeId,
      generation,
      phase: 'running',
      written: 0,
      total: 0,
      resumedFrom: 0,
      fileName,
      toFile,
      error: null,
    };
    try {
      await exportBundle({
        manifest: await manifestOf(),
        sources: [new LocalCopySource(), new SiteCopySource(RESTORE_RETRY)],
        target,
        onProgress: (progress) => {
          state.value = { ...state.value!, ...progress };
        },
      });
      state.value = { ...state.value, phase: 'done' };
    } catch (error) {
      state.value = { ...state.value, phase: 'failed', error };
    }
  }

  /** A generation whose signed manifest this browser holds (My volumes). */
  function exportGeneration(manifest: SignedManifest): Promise<void> {
    const { volumeId, generation } = manifest.index;
    return run(volumeId, generation, () => Promise.resolve(manifest));
  }

  /**
   * Any generation this user may restore: its signed manifest from the local
   * copy or the site, signature verified, and its blobs from wherever they are.
   */
  function exportRestorable(userId: string, volumeId: string, generation: number): Promise<void> {
    return run(volumeId, generation, async () => {
      const verified = await loadVerifiedManifest({ userId, volumeId, generation });
      return verified.manifest;
    });
  }

  return { state, text, exportGeneration, exportRestorable };
}
