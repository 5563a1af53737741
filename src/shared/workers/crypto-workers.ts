/**
 * Crypto workers, for sealing a backup as for decrypting a restore (BK-6):
 * one per core, at least one, at most eight.
 */
export function cryptoWorkerCount(
  cores: number | undefined = globalThis.navigator?.hardwareConcurrency,
): number {
  return Math.min(8, Math.max(1, cores ?? 2));
}
