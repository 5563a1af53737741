/**
 * Reads an image chunk by chunk with File.slice (BK-6), so only the chunks
 * in flight are ever in memory, and notices a file that changed while it was
 * being read: Chromium refuses to read a File whose file on disk changed
 * after it was chosen (NotReadableError), and a shorter read means the file
 * was cut.
 */

import { chunkCount } from '@/core/crypto';

export type ImageProblemCode = 'image_changed' | 'image_unreadable';

/** The image could not be read as chosen; the backup stops with a clear message. */
export class ImageReadError extends Error {
  constructor(
    readonly code: ImageProblemCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ImageReadError';
  }
}

/** What the reader needs of a File. */
export interface ImageFile {
  readonly name: string;
  readonly size: number;
  readonly lastModified: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export class ChunkReader {
  readonly chunkCount: number;

  constructor(
    readonly file: ImageFile,
    readonly chunkSize: number,
  ) {
    this.chunkCount = chunkCount(file.size, chunkSize);
  }

  lengthAt(position: number): number {
    return Math.min(this.chunkSize, this.file.size - position * this.chunkSize);
  }

  /** The plaintext of one chunk, in a buffer of its own (to be transferred). */
  async read(position: number): Promise<ArrayBuffer> {
    const offset = position * this.chunkSize;
    const length = this.lengthAt(position);
    let buffer: ArrayBuffer;
    try {
      buffer = await this.file.slice(offset, offset + length).arrayBuffer();
    } catch (cause) {
      const name = (cause as { name?: string } | null)?.name;
      if (name === 'NotReadableError' || name === 'NotFoundError') {
        throw new ImageReadError(
          'image_changed',
          'The image file changed or disappeared while it was being read.',
          { cause },
        );
      }
      throw new ImageReadError('image_unreadable', 'The image file could not be read.', { cause });
    }
    if (buffer.byteLength !== length) {
      throw new ImageReadError(
        'image_changed',
        `The image file changed while it was being read (chunk ${position} has ${buffer.byteLength} bytes, expected ${length}).`,
      );
    }
    return buffer;
  }
}
