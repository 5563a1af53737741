import { createHash, randomBytes } from 'node:crypto';
import type { Clock, Random } from '../domain/ports';

export const nodeRandom: Random = {
  token: () => randomBytes(32).toString('base64url'),
  sha256Hex: (text) => Promise.resolve(createHash('sha256').update(text).digest('hex')),
};

export const systemClock: Clock = { now: () => new Date() };
