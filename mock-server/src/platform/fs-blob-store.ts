import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore } from '../domain/escrow/ports';
import { mkdirDurable } from './durable-fs';

const CHUNK_ID = /^[0-9a-f]{64}$/;

/**
 * Chunk blobs on the filesystem under `<dataDir>/blobs`. A volume's folder is
 * named by the SHA-256 of its ID (IDs are free text, never a path); a blob
 * is written to a temporary file, fsynced and then linked into place, so a
 * crash leaves either the whole blob or none, and the first writer wins.
 */
export class FsBlobStore implements BlobStore {
  private readonly root: string;
  private readonly tmp: string;

  private constructor(dataDir: string) {
    this.root = path.join(dataDir, 'blobs');
    this.tmp = path.join(this.root, '.tmp');
  }

  /** Opens the store, removing temporary files a crash left behind. */
  static async open(dataDir: string): Promise<FsBlobStore> {
    const store = new FsBlobStore(dataDir);
    await fs.rm(store.tmp, { recursive: true, force: true });
    await mkdirDurable(store.tmp);
    return store;
  }

  pathOf(volumeId: string, chunkId: string): string {
    if (!CHUNK_ID.test(chunkId)) throw new Error('a chunk ID is 64 lower-case hex digits');
    const volumeKey = createHash('sha256').update(volumeId, 'utf8').digest('hex');
    return path.join(this.root, volumeKey.slice(0, 2), volumeKey, chunkId);
  }

  async put(volumeId: string, chunkId: string, blob: Uint8Array): Promise<'stored' | 'exists'> {
    const target = this.pathOf(volumeId, chunkId);
    const dir = path.dirname(target);
    // A new volume folder is fsynced into its parent, or a power loss could drop it with its blobs.
    await mkdirDurable(dir);
    const temporary = path.join(this.tmp, randomUUID());
    const handle = await fs.open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(blob);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.link(temporary, target);
      await syncDirectory(dir);
      return 'stored';
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
      throw error;
    } finally {
      await fs.rm(temporary, { force: true });
    }
  }

  async get(volumeId: string, chunkId: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await fs.readFile(this.pathOf(volumeId, chunkId)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async head(volumeId: string, chunkId: string, length: number): Promise<Uint8Array | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.pathOf(volumeId, chunkId), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await handle.read(buffer, 0, length, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async delete(volumeId: string, chunkId: string): Promise<void> {
    await fs.rm(this.pathOf(volumeId, chunkId), { force: true });
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
