/**
 * What a restore needs from the browser beyond the site (RS-6, BK-11): a job
 * that writes the image (a dedicated worker and the origin private file
 * system), the finished file, its delivery as a download, and the storage
 * quota. Component tests swap in a runtime that keeps images in memory.
 */

import { checkQuota, requestPersistence, type QuotaCheck } from '@/shared/storage/storage-quota';
import {
  hasOriginPrivateFileSystem,
  openRestoredFile,
  removeRestoredFile,
} from '@/features/restore/worker/restore-opfs';
import { prepareWorkerJob, type RestoreJobFactory } from '@/features/restore/worker/restore-job';
import { startDownload } from './restore-download';

export interface RestoreRuntime {
  /** False where the browser lacks workers or the origin private file system. */
  supported(): boolean;
  /** Makes a job ready; spawned when a restore begins, started once its keys and index are in. */
  readonly prepareJob: RestoreJobFactory;
  /** The finished image of a restore. */
  openResult(restoreId: string): Promise<Blob>;
  removeResult(restoreId: string): Promise<void>;
  /** Hands the image to the user as a browser download, by itself (SPEC §6). */
  deliver(file: Blob, fileName: string): void;
  /** Room for `bytes` more in this origin's storage (BK-11). */
  checkRoom(bytes: number): Promise<QuotaCheck>;
}

export const browserRuntime: RestoreRuntime = {
  supported: () => typeof Worker !== 'undefined' && hasOriginPrivateFileSystem(),
  prepareJob: prepareWorkerJob,
  openResult: openRestoredFile,
  removeResult: removeRestoredFile,
  deliver: startDownload,
  async checkRoom(bytes) {
    await requestPersistence();
    return checkQuota(bytes);
  },
};

let current: RestoreRuntime = browserRuntime;

export function restoreRuntime(): RestoreRuntime {
  return current;
}

/** Tests replace the runtime; `undefined` brings the browser's back. */
export function setRestoreRuntime(next: RestoreRuntime | undefined): void {
  current = next ?? browserRuntime;
}
