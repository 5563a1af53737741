/**
 * Named errors of volume-ID detection (BK-2). Each has a stable `code` for
 * programs and translations and an English `message` that says what happened
 * and what to do. An image that no detector recognises is not an error: it
 * gets a `content:` volume ID instead.
 */

export type VolumeErrorCode = 'empty_image' | 'image_unreadable';

export class VolumeDetectionError extends Error {
  readonly code: VolumeErrorCode;

  constructor(code: VolumeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A 0-byte file is not a volume: it has no identifier and nothing to back up,
 * so detection refuses it rather than inventing a `content:` ID for it.
 */
export class EmptyImageError extends VolumeDetectionError {
  constructor() {
    super('empty_image', 'The image is empty (0 bytes): choose a media image file.');
  }
}

/** The bytes of the image could not be obtained (the file vanished, changed or is unreadable). */
export class VolumeReadError extends VolumeDetectionError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(
      'image_unreadable',
      `The image could not be read (${detail}): check that the file still exists and is readable, then choose it again.`,
      options,
    );
  }
}
