/**
 * Exporting a bundle (FORMAT.md §16): the same bytes as the format's layout,
 * blobs from the local copy and, where it lacks one or holds a damaged one,
 * from the site; a chunk no source holds stops the export with what was
 * written kept, and exporting again to the same file continues from the last
 * whole blob without writing the head or earlier blobs again.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { bundleBytes, bundleLayout, concatBytes, type ChunkEntry } from '@/core/crypto';
import {
  makeBackup,
  randomImage,
  type BackupFixture,
} from '@/core/crypto/test-support/backup-fixture';
import { ApiError } from '@/shared/api/request';
import type { ChunkSource, CopyName } from '../worker/restore-sources';
import { ChunkUnavailableError, exportBundle, type BundleTarget } from './bundle-export';

const CHUNK = 512;
let backup: BackupFixture;

beforeAll(async () => {
  const a = randomImage(CHUNK);
  backup = await makeBackup(concatBytes(a, randomImage(3 * CHUNK), a, randomImage(70)), {
    chunkSize: CHUNK,
  });
});

/** A file in memory, as the File System Access API would keep it. */
class MemoryFile implements BundleTarget {
  bytes = new Uint8Array(0);
  writes: number[] = [];
  closed: boolean | undefined;

  existing(length: number) {
    return Promise.resolve({ size: this.bytes.length, head: this.bytes.slice(0, length) });
  }
  keep(length: number) {
    this.bytes = this.bytes.slice(0, length);
    return Promise.resolve();
  }
  write(bytes: Uint8Array<ArrayBuffer>) {
    this.writes.push(bytes.length);
    this.bytes = concatBytes(this.bytes, bytes);
    return Promise.resolve();
  }
  close(complete: boolean) {
    this.closed = complete;
    return Promise.resolve();
  }
}

/** A source holding some blobs, some of them damaged, or failing like a site that is away. */
function source(
  name: CopyName,
  holds: (entry: ChunkEntry) => 'good' | 'damaged' | 'none' | 'away',
  reads: string[] = [],
): ChunkSource {
  return {
    name,
    read(_volumeId, entry) {
      reads.push(entry.chunkId);
      const kind = holds(entry);
      if (kind === 'away') return Promise.reject(new ApiError('timeout', 'No answer.', 0));
      if (kind === 'none') return Promise.resolve(undefined);
      const blob = backup.blobs.get(entry.chunkId)!.slice();
      if (kind === 'damaged') blob[30]! ^= 1;
      return Promise.resolve(blob);
    },
  };
}

const idAt = (position: number) => backup.manifest.index.chunks[position]!.chunkId;

describe('exportBundle', () => {
  it('writes the bundle of the format, each repeated chunk once, from the local copy', async () => {
    const file = new MemoryFile();
    const reads: string[] = [];
    await exportBundle({
      manifest: backup.manifest,
      sources: [source('local', () => 'good', reads)],
      target: file,
    });
    expect(file.bytes).toEqual(bundleBytes(backup.manifest, backup.blobs));
    expect(reads).toHaveLength(backup.blobs.size);
    expect(file.closed).toBe(true);
  });

  it('takes a blob the local copy lacks or holds damaged from the site', async () => {
    const file = new MemoryFile();
    const siteReads: string[] = [];
    await exportBundle({
      manifest: backup.manifest,
      sources: [
        source('local', (entry) =>
          entry.chunkId === idAt(1) ? 'none' : entry.chunkId === idAt(2) ? 'damaged' : 'good',
        ),
        source('site', () => 'good', siteReads),
      ],
      target: file,
    });
    expect(file.bytes).toEqual(bundleBytes(backup.manifest, backup.blobs));
    expect(siteReads).toEqual([idAt(1), idAt(2)]);
  });

  it('stops at a chunk no source holds in good condition, keeps what it wrote, and continues from there', async () => {
    const file = new MemoryFile();
    const layout = bundleLayout(backup.manifest);
    const stopped = exportBundle({
      manifest: backup.manifest,
      sources: [
        source('local', (entry) => (entry.chunkId === idAt(2) ? 'damaged' : 'good')),
        source('site', (entry) => (entry.chunkId === idAt(2) ? 'none' : 'good')),
      ],
      target: file,
    });
    await expect(stopped).rejects.toBeInstanceOf(ChunkUnavailableError);
    await expect(stopped).rejects.toThrow(`Chunk 2 (${idAt(2)})`);
    expect(file.closed).toBe(false);
    // Head, blobs 0 and 1 — no trailer: the file cannot pass for a whole bundle.
    expect(file.bytes.length).toBe(layout.blobs[2]!.offset);

    // Half of a blob written before a stop is dropped, not kept.
    file.bytes = concatBytes(file.bytes, backup.blobs.get(idAt(2))!.slice(0, 40));
    file.writes = [];
    const progress: number[] = [];
    await exportBundle({
      manifest: backup.manifest,
      sources: [source('local', () => 'good')],
      target: file,
      onProgress: (p) => progress.push(p.resumedFrom),
    });
    expect(file.bytes).toEqual(bundleBytes(backup.manifest, backup.blobs));
    expect(progress.every((kept) => kept === layout.blobs[2]!.offset)).toBe(true);
    // Only the missing blobs and the trailer were written.
    expect(file.writes).toEqual([...layout.blobs.slice(2).map((b) => b.length), 12]);
  });

  it('says a site that cannot be reached, when it was the last hope for a chunk', async () => {
    const file = new MemoryFile();
    const stopped = exportBundle({
      manifest: backup.manifest,
      sources: [
        source('local', (entry) => (entry.chunkId === idAt(1) ? 'none' : 'good')),
        source('site', () => 'away'),
      ],
      target: file,
    });
    await expect(stopped).rejects.toMatchObject({ code: 'timeout' });
  });

  it('starts afresh over a file that holds something else', async () => {
    const file = new MemoryFile();
    file.bytes = randomImage(5000);
    await exportBundle({
      manifest: backup.manifest,
      sources: [source('local', () => 'good')],
      target: file,
    });
    expect(file.bytes).toEqual(bundleBytes(backup.manifest, backup.blobs));
  });
});
