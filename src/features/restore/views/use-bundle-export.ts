/**
 * "Export bundle" for one generation (RS-11, FORMAT.md §16): to a file the operator
 * chooses where the browser can write one (continuing a bundle that file
 * already holds the start of), else as a download. What it shows: progress,
 * then where the bundle went, or why it stopped.
 */

import { ref } from 'vue';
import { bundleFileName, type SignedManifest } from '@/core/crypto';
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
  const state = ref<BundleExportState | null>(null);

  async function exportGeneration(manifest: SignedManifest): Promise<void> {
    if (state.value?.phase === 'running') return;
    let fileName = bundleFileName(manifest);
    const { volumeId, generation } = manifest.index;
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
        manifest,
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

  return { state, exportGeneration };
}
