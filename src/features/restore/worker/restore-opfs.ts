/**
 * RS-6: restored images are written to the origin private file system, one
 * file per restore, named by the restore's ID. The worker writes through a
 * synchronous access handle (dedicated workers only); the page then hands the
 * finished file to the browser as a download through an object URL of the
 * file itself, which is backed by disk, never one buffer of the whole image.
 */

import type { ImageSink } from './restore-pipeline';

/** The folder of restored images in the origin private file system. */
export const RESTORE_DIRECTORY = 'restores';

/** What Chromium's FileSystemSyncAccessHandle offers (the DOM typings lack it). */
interface SyncAccessHandle {
  write(buffer: Uint8Array, options?: { at?: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

type SyncCapableFileHandle = FileSystemFileHandle & {
  createSyncAccessHandle(): Promise<SyncAccessHandle>;
};

/** The restored image could not be written: the browser's storage is full (BK-11). */
export class RestoreQuotaError extends Error {
  readonly code = 'quota_exceeded';

  constructor() {
    super('The browser has no room left to write the restored image.');
    this.name = 'RestoreQuotaError';
  }
}

async function restoreDirectory(create: boolean): Promise<FileSystemDirectoryHandle> {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(RESTORE_DIRECTORY, { create });
}

/** True where the origin private file system can be used. */
export function hasOriginPrivateFileSystem(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.storage?.getDirectory === 'function';
}

/** Opens (or creates) the output file of a restore for writing, in a worker. */
export async function openOpfsSink(name: string): Promise<ImageSink> {
  const directory = await restoreDirectory(true);
  const file = (await directory.getFileHandle(name, { create: true })) as SyncCapableFileHandle;
  let access: SyncAccessHandle | undefined = await file.createSyncAccessHandle();
  const close = (): void => {
    access?.close();
    access = undefined;
  };
  const open = (): SyncAccessHandle => {
    if (!access) throw new Error('The restored image file is closed.');
    return access;
  };
  return {
    async truncate(size) {
      open().truncate(size);
    },
    async write(bytes, offset) {
      let written: number;
      try {
        written = open().write(bytes, { at: offset });
      } catch (error) {
        if (error instanceof DOMException && error.name === 'QuotaExceededError') {
          throw new RestoreQuotaError();
        }
        throw error;
      }
      if (written !== bytes.length) throw new RestoreQuotaError();
    },
    async flush() {
      open().flush();
    },
    async close() {
      close();
    },
    async discard() {
      close();
      await directory.removeEntry(name).catch(() => undefined);
    },
  };
}

/** The finished image as a disk-backed File, for the download (page side). */
export async function openRestoredFile(name: string): Promise<File> {
  const directory = await restoreDirectory(false);
  return (await directory.getFileHandle(name)).getFile();
}

/** Removes a restore's output file, if there is one. */
export async function removeRestoredFile(name: string): Promise<void> {
  try {
    const directory = await restoreDirectory(false);
    await directory.removeEntry(name);
  } catch {
    // Nothing was written yet, or it is gone already.
  }
}
