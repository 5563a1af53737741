/**
 * Helpers for the restore screen's tests in jsdom, which has neither
 * workers nor the origin private file system: a runtime that runs the same
 * restore task on the page and writes images into memory, with a switch to
 * cut the power after a number of chunks (a crash mid-restore).
 */

import { sha256Hex } from '@/core/crypto';
import { makeBackup, type BackupFixture } from '@/core/crypto/test-support/backup-fixture';
import type { QuotaCheck } from '@/shared/storage/storage-quota';
import type { ImageSink } from '@/features/restore/worker/restore-pipeline';
import { RestoreJobError } from '@/features/restore/worker/restore-protocol';
import type { RestoreJob, RestoreJobFactory } from '@/features/restore/worker/restore-job';
import { LocalCopySource, SiteCopySource } from '@/features/restore/worker/restore-sources';
import { startRestoreTask } from '@/features/restore/worker/restore-task';
import type { RestoreRuntime } from '@/features/restore/engine/restore-runtime';

/** A small image in small chunks, so tests restore several chunks quickly. */
export const TEST_CHUNK_SIZE = 1024;

export function patternImage(length: number, seed = 7): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

export async function testBackup(
  volumeId: string,
  options: { length?: number; seed?: number; previous?: BackupFixture; fileName?: string } = {},
): Promise<BackupFixture> {
  return makeBackup(patternImage(options.length ?? 5 * TEST_CHUNK_SIZE + 100, options.seed), {
    volumeId,
    chunkSize: TEST_CHUNK_SIZE,
    fileName: options.fileName ?? 'disk.img',
    ...(options.previous ? { previous: options.previous.manifest, reuse: options.previous } : {}),
  });
}

export class PowerCut extends Error {
  constructor() {
    super('power cut');
    this.name = 'PowerCut';
  }
}

export class MemoryRestoreRuntime implements RestoreRuntime {
  readonly files = new Map<string, Uint8Array<ArrayBuffer>>();
  readonly downloads: { fileName: string; restoreId: string }[] = [];
  /** Writes accepted before the power is cut; Infinity for none. */
  writesBeforePowerCut = Infinity;
  /** Bytes free in "this browser"; Infinity for plenty. */
  room = Infinity;
  available = true;
  private lastOpened = '';

  supported(): boolean {
    return this.available;
  }

  readonly prepareJob: RestoreJobFactory = () => ({
    ready: Promise.resolve(),
    start: (start, onProgress): RestoreJob => {
      const task = startRestoreTask(
        start,
        {
          openSink: async (name) => this.sink(name),
          local: new LocalCopySource(),
          site: new SiteCopySource(start.retry),
        },
        onProgress,
      );
      return {
        done: task.outcome.then((outcome) => {
          if (outcome.type === 'complete') return outcome.sha256;
          throw new RestoreJobError(outcome.error);
        }),
        cancel: (discard) => task.cancel(discard),
      };
    },
    dispose: () => undefined,
  });

  private sink(name: string): ImageSink {
    if (!this.files.has(name)) this.files.set(name, new Uint8Array(0));
    const bytes = (): Uint8Array<ArrayBuffer> => {
      const file = this.files.get(name);
      if (!file) throw new Error('the file was deleted');
      return file;
    };
    return {
      truncate: async (size) => {
        this.files.set(name, bytes().slice(0, size));
      },
      write: async (data, offset) => {
        if (this.writesBeforePowerCut <= 0) throw new PowerCut();
        this.writesBeforePowerCut -= 1;
        const current = bytes();
        const next = new Uint8Array(Math.max(current.length, offset + data.length));
        next.set(current);
        next.set(data, offset);
        this.files.set(name, next);
      },
      flush: async () => undefined,
      close: async () => undefined,
      discard: async () => {
        this.files.delete(name);
      },
    };
  }

  async openResult(restoreId: string): Promise<Blob> {
    const file = this.files.get(restoreId);
    if (!file) throw new Error(`no restored image ${restoreId}`);
    this.lastOpened = restoreId;
    return new Blob([file]);
  }

  async removeResult(restoreId: string): Promise<void> {
    this.files.delete(restoreId);
  }

  deliver(_file: Blob, fileName: string): void {
    this.downloads.push({ fileName, restoreId: this.lastOpened });
  }

  async checkRoom(bytes: number): Promise<QuotaCheck> {
    return {
      needed: bytes,
      available: Number.isFinite(this.room) ? this.room : null,
      enough: bytes <= this.room,
    };
  }

  /** SHA-256 of a restore's output, as the download would carry it. */
  async sha256Of(restoreId: string): Promise<string> {
    return sha256Hex(this.files.get(restoreId) ?? new Uint8Array(0));
  }
}
