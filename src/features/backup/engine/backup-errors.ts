/**
 * Everything that can stop a backup, as values the screen turns into a
 * sentence in the current language (SPEC §4 Usability). Each code has a
 * message under `backup.errors` in every catalog; `params` fill it in.
 */

import { ApiError } from '@/shared/api/request';
import { EmptyImageError, VolumeReadError } from '@/core/volume';
import { KeyFileError } from '@/core/crypto';
import { isQuotaExceeded } from '@/shared/storage/storage-quota';
import { ImageReadError } from '@/features/backup/worker/chunk-reader';

export const backupErrorCodes = [
  'image_empty',
  'image_too_small',
  'image_unreadable',
  'image_changed',
  'image_mismatch',
  'site_unreachable',
  'site_key_invalid',
  'site_key_changed',
  'registered_to_another_operator',
  'chunk_id_key_missing',
  'volume_move_short',
  'key_file_passphrase_short',
  'key_file_not_a_key_file',
  'key_file_wrong_passphrase',
  'key_file_conflict',
  'quota_insufficient',
  'quota_exceeded',
  'storage_unavailable',
  'already_running',
  'receipt_invalid',
  'commit_stuck',
  'transfer_refused',
  'session_ended',
  'registration_unavailable',
  'copy_gap',
  'copy_signed_out',
  'copy_unreachable',
  'copy_suspended',
  'threshold_range',
  'share_site_unreachable',
  'unexpected',
] as const;
export type BackupErrorCode = (typeof backupErrorCodes)[number];

export type BackupErrorParams = Record<string, string | number>;

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
    readonly params: BackupErrorParams = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackupError';
  }
}

/** A failure as the screen shows it: a code it can translate and, for the site's own refusals, its words. */
export interface BackupProblem {
  readonly code: BackupErrorCode;
  readonly params: BackupErrorParams;
  /** The site's message, for refusals whose code the console has no sentence for. */
  readonly siteMessage?: string;
}

function isUnreachable(error: ApiError): boolean {
  return error.code === 'network_error' || error.code === 'timeout' || error.status >= 500;
}

/** Maps any error a backup can meet to a problem the screen can explain. */
export function describeBackupError(error: unknown): BackupProblem {
  if (error instanceof BackupError) return { code: error.code, params: error.params };
  if (error instanceof EmptyImageError) return { code: 'image_empty', params: {} };
  if (error instanceof KeyFileError) {
    const code =
      error.reason === 'wrong-passphrase' ? 'key_file_wrong_passphrase' : 'key_file_not_a_key_file';
    return { code, params: {} };
  }
  if (error instanceof VolumeReadError) return { code: 'image_unreadable', params: {} };
  if (error instanceof ImageReadError) return { code: error.code, params: {} };
  if (isQuotaExceeded(error)) return { code: 'quota_exceeded', params: {} };
  if (error instanceof ApiError) {
    if (error.code === 'registered_to_another_operator') {
      return { code: 'registered_to_another_operator', params: {}, siteMessage: error.message };
    }
    if (error.status === 401) return { code: 'session_ended', params: {} };
    if (isUnreachable(error)) return { code: 'site_unreachable', params: {} };
    return {
      code: 'transfer_refused',
      params: { message: error.message },
      siteMessage: error.message,
    };
  }
  return {
    code: 'unexpected',
    params: { message: error instanceof Error ? error.message : String(error) },
  };
}

/** Whether an error means the site is (for now) out of reach, so waiting helps. */
export function isSiteUnreachable(error: unknown): boolean {
  return error instanceof ApiError && isUnreachable(error);
}
