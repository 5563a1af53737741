/**
 * Every number that tunes the backup pipeline (BK-6), in one place. The
 * defaults aim at end-to-end throughput close to the slowest stage (SPEC §4):
 * enough chunks in flight to keep every crypto worker and the uploads busy,
 * few enough that memory stays flat whatever the image size.
 */

/**
 * Chunks the pipeline may hold in memory at once, counted from the read of
 * a chunk's plaintext until its blob is stored and handed over: each worker
 * has one being sealed and one waiting, plus one batch being written.
 */
export function maxChunksInMemory(workers: number): number {
  return workers * 2 + WRITE_BATCH_CHUNKS;
}

/** Blobs per IndexedDB transaction (bulkPut of 1–4 MiB values writes fastest in batches). */
export const WRITE_BATCH_CHUNKS = 4;

/** Transfers in flight to the site at once (RC-2: the site applies in order, buffering gaps). */
export const UPLOAD_PARALLELISM = 4;

/** Blobs the uploader may keep from the writer instead of reading them back from IndexedDB. */
export const UPLOAD_HANDOVER_CHUNKS = 4;

/** While the site is unreachable: how often to try again (back-off up to the maximum). */
export const RECONNECT = { baseDelayMs: 1_000, maxDelayMs: 10_000 } as const;

/** A commit answered "buffered" is sent again this often, this many times, for its receipt. */
export const COMMIT_RECHECK = { delayMs: 500, attempts: 120 } as const;

/** Renew the claim when less than this share of its time-to-live is left (BK-3). */
export const CLAIM_RENEW_FRACTION = 0.5;

/** Progress events at most this often, and the window MB/s is averaged over. */
export const PROGRESS_INTERVAL_MS = 250;
export const RATE_WINDOW_MS = 5_000;

/** Files shorter than one 512-byte sector are not media images. */
export const MIN_IMAGE_SIZE = 512;

/** Web Lock held by the one backup runner of this browser (BK-7). */
export const RUNNER_LOCK_NAME = 'custodian-backup-runner';
