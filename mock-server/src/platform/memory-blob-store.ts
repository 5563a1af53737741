import type { BlobStore } from '../domain/escrow/ports';

const CHUNK_ID = /^[0-9a-f]{64}$/;

function checkChunkId(chunkId: string): void {
  // The same refusal as the filesystem store, which names files by chunk ID.
  if (!CHUNK_ID.test(chunkId)) throw new Error('a chunk ID is 64 lower-case hex digits');
}

/**
 * Chunk blobs in memory, by (volume ID, chunk ID). The first writer wins;
 * blobs are copied in and out, so no caller holds the stored bytes.
 */
export class MemoryBlobStore implements BlobStore {
  private readonly volumes = new Map<string, Map<string, Uint8Array>>();

  async put(volumeId: string, chunkId: string, blob: Uint8Array): Promise<'stored' | 'exists'> {
    checkChunkId(chunkId);
    let blobs = this.volumes.get(volumeId);
    if (!blobs) this.volumes.set(volumeId, (blobs = new Map()));
    if (blobs.has(chunkId)) return 'exists';
    blobs.set(chunkId, new Uint8Array(blob));
    return 'stored';
  }

  async get(volumeId: string, chunkId: string): Promise<Uint8Array | undefined> {
    checkChunkId(chunkId);
    const blob = this.volumes.get(volumeId)?.get(chunkId);
    return blob && new Uint8Array(blob);
  }

  async head(volumeId: string, chunkId: string, length: number): Promise<Uint8Array | undefined> {
    checkChunkId(chunkId);
    const blob = this.volumes.get(volumeId)?.get(chunkId);
    if (!blob) return undefined;
    // Sized as the filesystem store's read buffer, so a bad length fails the same way.
    const buffer = new Uint8Array(length);
    const read = Math.min(length, blob.length);
    buffer.set(blob.subarray(0, read));
    return buffer.subarray(0, read);
  }

  async delete(volumeId: string, chunkId: string): Promise<void> {
    checkChunkId(chunkId);
    const blobs = this.volumes.get(volumeId);
    blobs?.delete(chunkId);
    if (blobs?.size === 0) this.volumes.delete(volumeId);
  }
}
