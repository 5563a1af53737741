import type {
  Alert,
  AlertKind,
  AlertMessageCode,
  RefusalReason,
  ReleaseOutcome,
  VolumeActivity,
  VolumeActivityPage,
  VolumeActivityQuery,
} from '../../../../src/core/contract';
import type { AlertRepository } from '../ports';
import type { Caller, EscrowDeps } from './context';
import type { ReleaseRow } from './ports';
import { EXPIRED_WHY, REVOKED_WHY } from './release';
import { notFound, type VolumeService } from './volumes';

/** The alerts that are refusals of a volume (RS-2, RS-3, BK-3); integrity reports are not. */
export const REFUSAL_ALERT_KINDS: readonly AlertKind[] = [
  'unauthorized_restorer',
  'key_not_found',
  'replayed_request',
  'overwrite_attempt',
];

/** The refusals whose reason the alert's message code names; any other "no key" is `no_key`. */
const REASON_OF_MESSAGE: ReadonlyMap<string, RefusalReason> = new Map<
  AlertMessageCode,
  RefusalReason
>([
  ['key_revoked', 'revoked'],
  ['key_expired', 'expired'],
  ['key_used_up', 'burned'],
  ['key_had_once', 'used_once'],
]);

/**
 * Why a refusal alert was raised. A missing key has several causes, which
 * the release rules name in the alert's message code (release.ts `noKey`);
 * alerts stored before messages had codes are read by their words.
 */
export function refusalReasonOf(
  alert: Pick<Alert, 'kind' | 'message' | 'sentence'>,
): RefusalReason {
  switch (alert.kind) {
    case 'unauthorized_restorer':
      return 'unauthorized_use';
    case 'replayed_request':
      return 'replayed_request';
    case 'overwrite_attempt':
      return 'not_owner';
    default:
      if (alert.message) return REASON_OF_MESSAGE.get(alert.message.code) ?? 'no_key';
      if (alert.sentence.includes(REVOKED_WHY)) return 'revoked';
      if (alert.sentence.includes(EXPIRED_WHY)) return 'expired';
      if (alert.sentence.includes('one-time record was already used')) return 'burned';
      if (alert.sentence.includes('already received the key once')) return 'used_once';
      return 'no_key';
  }
}

export function releaseOutcomeOf(row: Pick<ReleaseRow, 'state' | 'decidedBy'>): ReleaseOutcome {
  if (row.state === 'pending_approval') return 'awaiting_approval';
  if (row.state === 'denied') return 'denied';
  return row.decidedBy ? 'approved' : 'released';
}

/** Where the previous page stopped: an entry's time, source (r: release, a: alert) and ID. */
interface Position {
  readonly at: string;
  readonly source: 'r' | 'a';
  readonly id: string;
}

export function encodeCursor(position: Position): string {
  return `${position.at}~${position.source}~${position.id}`;
}

export function decodeCursor(cursor: string): Position {
  const [at = '', source, id = ''] = cursor.split('~');
  return { at, source: source === 'a' ? 'a' : 'r', id };
}

/**
 * Entries are ordered newest first by (time, source, ID), releases before
 * alerts at the same time; a cursor is the position of the last entry shown.
 */
function isBefore(a: Position, b: Position): boolean {
  if (a.at !== b.at) return a.at > b.at;
  if (a.source !== b.source) return a.source === 'r';
  return a.source === 'a' ? Number(a.id) > Number(b.id) : a.id > b.id;
}

type AlertPages = Pick<AlertRepository, 'pageOfVolume'>;

/**
 * Owners see the restores and refusals of their volumes (SPEC §1, AL-3):
 * the site's release rows and refusal alerts of one volume, merged and
 * paged newest first. Anyone but the owner is refused as any non-owner
 * action on a volume is (BK-3), with the audit entry and alert that go with it.
 */
export class VolumeActivityService {
  constructor(
    private readonly deps: EscrowDeps,
    private readonly alerts: AlertPages,
    private readonly volumes: Pick<VolumeService, 'assertOwner'>,
  ) {}

  async list(
    caller: Caller,
    volumeId: string,
    query: VolumeActivityQuery,
  ): Promise<VolumeActivityPage> {
    const volume = await this.deps.store.volumes.find(volumeId);
    if (!volume) throw notFound(volumeId);
    await this.volumes.assertOwner(caller, volume, 'see the restores and refusals of');

    const cursor = query.before ? decodeCursor(query.before) : null;
    // Each source is read from just past the cursor; an equal time of the other source
    // is already shown (releases come first) or not yet (alerts come after).
    const releaseBefore = cursor && {
      at: cursor.at,
      requestId: cursor.source === 'r' ? cursor.id : '',
    };
    const alertBefore = cursor && {
      at: cursor.at,
      id: cursor.source === 'a' ? Number(cursor.id) : Number.MAX_SAFE_INTEGER,
    };
    const [releases, alerts] = await Promise.all([
      this.deps.store.releases.pageOf(volumeId, releaseBefore, query.limit + 1),
      this.alerts.pageOfVolume(volumeId, REFUSAL_ALERT_KINDS, alertBefore, query.limit + 1),
    ]);
    const merged = [
      ...releases.map((r) => ({
        position: { at: r.createdAt, source: 'r' as const, id: r.requestId },
        release: r,
      })),
      ...alerts.map((a) => ({
        position: { at: a.at, source: 'a' as const, id: String(a.id) },
        alert: a,
      })),
    ].sort((x, y) => (isBefore(x.position, y.position) ? -1 : 1));
    const page = merged.slice(0, query.limit);
    const names = await this.displayNames(
      page.map((e) => ('release' in e ? e.release.userId : e.alert.userId)),
    );
    const entries = page.map((e): VolumeActivity => {
      if ('release' in e) {
        const r = e.release;
        return {
          type: 'release',
          id: r.requestId,
          at: r.createdAt,
          userId: r.userId,
          displayName: names.get(r.userId) ?? null,
          generation: r.generation,
          outcome: releaseOutcomeOf(r),
          decidedBy: r.decidedBy,
          decidedAt: r.decidedAt,
          note: r.reason,
        };
      }
      const a = e.alert;
      return {
        type: 'refusal',
        id: String(a.id),
        at: a.at,
        userId: a.userId,
        displayName: a.userId ? (names.get(a.userId) ?? null) : null,
        reason: refusalReasonOf(a),
      };
    });
    const last = page.at(-1);
    return {
      volumeId,
      entries,
      nextCursor: merged.length > query.limit && last ? encodeCursor(last.position) : null,
    };
  }

  /** Display names of the people named on a page; unknown user IDs get none. */
  private async displayNames(userIds: readonly (string | null)[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (const userId of new Set(userIds)) {
      if (!userId) continue;
      const user = await this.deps.users.find(userId);
      if (user) names.set(userId, user.displayName);
    }
    return names;
  }
}
