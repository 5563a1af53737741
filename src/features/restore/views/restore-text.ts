import { useI18n } from 'vue-i18n';
import { useExplainError } from '@/shared/errors/explain-error';
import { useQuantityFormat } from '@/shared/ui/use-quantity-format';
import type { RestoreProblem, ShareAnswer } from '@/features/restore/engine/restore-errors';

/** Sentences of the restore screen that depend on values: sizes and problems. */
export function useRestoreText() {
  const { t, locale } = useI18n();
  const siteError = useExplainError();

  const { bytes } = useQuantityFormat();

  function percent(part: number, whole: number): string {
    const ratio = whole === 0 ? 1 : part / whole;
    return new Intl.NumberFormat(locale.value, {
      style: 'percent',
      maximumFractionDigits: ratio > 0 && ratio < 1 ? 1 : 0,
    }).format(ratio);
  }

  /** What went wrong and what to do, in the reader's language (SPEC §4). */
  function problem(value: RestoreProblem, generation?: number): string {
    switch (value.kind) {
      case 'unauthorized':
      case 'noKey':
      case 'revoked':
      case 'expired':
      case 'tamperedImage':
      case 'quota':
      case 'keyLost':
      case 'unsupported':
      case 'busy':
        return t(`restore.problems.${value.kind}`);
      case 'generationNotFound':
        return t('restore.problems.generationNotFound', { generation: generation ?? '' });
      case 'denied':
        return t('restore.problems.denied', { reason: value.reason });
      case 'tamperedChunk':
        return t('restore.problems.tamperedChunk', {
          index: value.chunkIndex ?? '?',
          chunkId: value.chunkId,
          check: t(`restore.checks.${value.failure}`),
        });
      case 'tamperedManifest':
        return t('restore.problems.tamperedManifest', { detail: value.detail });
      case 'localMissing':
        return t('restore.problems.localMissing', { index: value.chunkIndex ?? '?' });
      case 'pinnedSiteSignedOut':
        return t('restore.problems.pinnedSiteSignedOut', { site: value.site });
      case 'pinnedSiteMissing':
        return t('restore.problems.pinnedSiteMissing', {
          site: value.site,
          index: value.chunkIndex ?? '?',
        });
      case 'unreachable':
        return t('restore.problems.unreachable', {
          attempts: value.attempts,
          seconds: value.seconds,
        });
      case 'site':
        return siteError(value.error);
      case 'unexpected':
        return t('restore.problems.unexpected', { message: value.message });
      case 'shareSiteUnknown':
        return t('restore.problems.shareSiteUnknown');
      case 'bundleChunk':
        return t('restore.problems.bundleChunk', {
          index: value.chunkIndex ?? '?',
          chunkId: value.chunkId,
          check: t(`restore.checks.${value.failure}`),
        });
      case 'bundleMismatch':
      case 'bundleNeeded':
        return t(`restore.problems.${value.kind}`);
      case 'sharesBad':
        return t('restore.problems.sharesBad', { detail: value.detail });
      case 'sharesShort':
        return [
          t('restore.problems.sharesShort', { received: value.received, needed: value.needed }),
          ...value.answers.map((a) =>
            t('restore.shares.answer', { site: a.name, answer: answer(a) }),
          ),
        ].join(' ');
    }
  }

  /** One site's answer to a request for its share, in a few words (MS-5). */
  function answer(value: ShareAnswer): string {
    if (value.outcome !== 'refused' || !value.problem) return t(`restore.shares.${value.outcome}`);
    switch (value.problem.kind) {
      case 'unauthorized':
        return t('restore.shares.unauthorized');
      case 'noKey':
        return t('restore.shares.noKey');
      case 'unreachable':
        return t('restore.shares.unreachable');
      default:
        return problem(value.problem);
    }
  }

  return { bytes, percent, problem, answer };
}
