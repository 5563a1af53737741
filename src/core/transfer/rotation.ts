/**
 * RC-4 key rotation: when a pair's data key is replaced by a new epoch key.
 * Seed 002 (claim 11) derives the interval from an estimate of how long an
 * attacker would need to break a key: key bits and the guesses per second
 * assumed in, an interval out, kept within sane bounds whatever the inputs.
 */

export interface RotationPolicy {
  /** Rotate after this many plaintext bytes under one key. */
  readonly everyBytes: number;
  /** ...or after this long, whichever comes first. */
  readonly everyMs: number;
}

export const ROTATION_BOUNDS = {
  /** Never rotate more often than once a minute: each rotation is an escrow round trip. */
  minMs: 60_000,
  /** Never keep a key longer than 30 days, whatever the estimate says. */
  maxMs: 30 * 24 * 3600_000,
  /** At most 2^32 chunk encryptions per key with random nonces (NIST SP 800-38D); far below it. */
  maxBytes: 64 * 1024 ** 4,
  minBytes: 64 * 1024 ** 2,
} as const;

export const DEFAULT_ROTATION: RotationPolicy = {
  everyBytes: 64 * 1024 ** 3,
  everyMs: 24 * 3600_000,
};

/**
 * Time to break a key by exhaustive search, on average (half the key space),
 * in milliseconds; Infinity when it exceeds what a number can say.
 */
export function timeToBreakMs(keyBits: number, guessesPerSecond: number): number {
  if (
    !Number.isFinite(keyBits) ||
    keyBits <= 0 ||
    !Number.isFinite(guessesPerSecond) ||
    guessesPerSecond <= 0
  ) {
    throw new RangeError('key bits and guesses per second must be positive numbers');
  }
  // 2^(bits-1) / rate seconds, computed in log2 space to stay finite where it can.
  const log2Ms = keyBits - 1 - Math.log2(guessesPerSecond) + Math.log2(1000);
  return log2Ms > 1023 ? Infinity : 2 ** log2Ms;
}

/**
 * The rotation interval T of seed 002 claim 11: a fraction (`safetyFactor`,
 * default one millionth) of the time to break a key, clamped to
 * [ROTATION_BOUNDS.minMs, ROTATION_BOUNDS.maxMs].
 */
export function rotationIntervalMs(
  keyBits: number,
  guessesPerSecond: number,
  safetyFactor = 1e-6,
): number {
  if (!(safetyFactor > 0 && safetyFactor <= 1))
    throw new RangeError('the safety factor must be in (0, 1]');
  const raw = timeToBreakMs(keyBits, guessesPerSecond) * safetyFactor;
  return Math.min(
    ROTATION_BOUNDS.maxMs,
    Math.max(ROTATION_BOUNDS.minMs, Number.isFinite(raw) ? raw : ROTATION_BOUNDS.maxMs),
  );
}

/** A policy with both limits clamped to the bounds. */
export function rotationPolicy(everyBytes: number, everyMs: number): RotationPolicy {
  const clamp = (v: number, lo: number, hi: number) =>
    Math.min(hi, Math.max(lo, Number.isFinite(v) ? v : hi));
  return {
    everyBytes: clamp(everyBytes, ROTATION_BOUNDS.minBytes, ROTATION_BOUNDS.maxBytes),
    everyMs: clamp(everyMs, ROTATION_BOUNDS.minMs, ROTATION_BOUNDS.maxMs),
  };
}

/** Whether the key of the current epoch must be replaced now (RC-4). */
export function rotationDue(
  policy: RotationPolicy,
  bytesUnderKey: number,
  keyAgeMs: number,
): boolean {
  return bytesUnderKey >= policy.everyBytes || keyAgeMs >= policy.everyMs;
}
