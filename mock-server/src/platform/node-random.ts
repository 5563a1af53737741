import { createHash, randomBytes } from 'node:crypto';
import type { Clock, Random } from '../domain/ports';

export const nodeRandom: Random = {
  token: () => randomBytes(32).toString('base64url'),
  sha256Hex: (text) => Promise.resolve(createHash('sha256').update(text).digest('hex')),
};

/** SHA-256 of bytes with node:crypto (SHA-NI where the CPU has it), without copying them. */
export const nodeSha256Hex = (data: Uint8Array): Promise<string> =>
  Promise.resolve(createHash('sha256').update(data).digest('hex'));

export const systemClock: Clock = { now: () => new Date() };
