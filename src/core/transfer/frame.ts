/**
 * One transfer of a pair's stream (RC-2, docs/FORMAT.md "Transfers"): a
 * chunk blob, an epoch-key announcement or a commit, framed as
 *
 *   u16 BE header length ‖ header (RFC 8785 JSON) ‖ payload
 *
 * and then padded as padTransfer() pads to the one size every transfer has
 * (RC-4), so that the kind cannot be told from the size on the wire.
 */
import { z } from 'zod';
import { canonicalJson, parseJsonBytes, type JsonValue } from '../crypto/canonical-json';
import {
  CHUNK_SIZE,
  TRANSFER_LENGTH_PREFIX,
  maxTransferBodySize,
  paddedTransferSize,
  unpadTransfer,
} from '../crypto/constants';
import { MalformedTransferError } from '../crypto/errors';
import { epochSchema, hex256Schema, volumeIdSchema } from '../crypto/format-schemas';

export const transferHeaderSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('chunk'), volumeId: volumeIdSchema, chunkId: hex256Schema }),
  z.strictObject({ kind: z.literal('epoch-key'), volumeId: volumeIdSchema, epoch: epochSchema }),
  z.strictObject({ kind: z.literal('commit'), volumeId: volumeIdSchema }),
]);
export type TransferHeader = z.infer<typeof transferHeaderSchema>;
export type TransferKind = TransferHeader['kind'];

export interface Transfer {
  readonly header: TransferHeader;
  readonly payload: Uint8Array;
}

const MAX_HEADER = 0xffff;

/** Frames and pads one transfer; the result is always paddedTransferSize() bytes. */
export function encodeTransfer(
  header: TransferHeader,
  payload: Uint8Array,
  chunkSize: number = CHUNK_SIZE,
): Uint8Array<ArrayBuffer> {
  const headerBytes = canonicalJson(header as unknown as JsonValue);
  if (headerBytes.length > MAX_HEADER)
    throw new MalformedTransferError('The transfer header is too long.');
  // Framed straight into the padded buffer: the same bytes as
  // padTransfer(header length ‖ header ‖ payload), without a second 4 MiB
  // allocation and copy per chunk.
  const bodyLength = 2 + headerBytes.length + payload.length;
  const max = maxTransferBodySize(chunkSize);
  if (bodyLength > max) {
    throw new MalformedTransferError(
      `A transfer body of ${bodyLength} bytes does not fit in a padded transfer (at most ${max} bytes).`,
    );
  }
  const padded = new Uint8Array(paddedTransferSize(chunkSize));
  const view = new DataView(padded.buffer);
  view.setUint32(0, bodyLength, false);
  view.setUint16(TRANSFER_LENGTH_PREFIX, headerBytes.length, false);
  padded.set(headerBytes, TRANSFER_LENGTH_PREFIX + 2);
  padded.set(payload, TRANSFER_LENGTH_PREFIX + 2 + headerBytes.length);
  return padded;
}

/** Unpads and parses one transfer; throws MalformedTransferError on anything else. */
export function decodeTransfer(padded: Uint8Array, chunkSize: number = CHUNK_SIZE): Transfer {
  const body = unpadTransfer(padded, chunkSize);
  if (body.length < 2) throw new MalformedTransferError('The transfer has no header.');
  const headerLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint16(
    0,
    false,
  );
  if (2 + headerLength > body.length)
    throw new MalformedTransferError('The transfer header is cut short.');
  let raw: unknown;
  try {
    raw = parseJsonBytes(body.subarray(2, 2 + headerLength));
  } catch {
    throw new MalformedTransferError('The transfer header is not JSON.');
  }
  const parsed = transferHeaderSchema.safeParse(raw);
  if (!parsed.success) {
    throw new MalformedTransferError(
      `The transfer header is not valid: ${parsed.error.issues[0]?.message ?? ''}`,
    );
  }
  return { header: parsed.data, payload: body.subarray(2 + headerLength) };
}
