import type { DomainError } from '../errors';
import type { Caller, EscrowDeps } from './context';

/** What a non-owner tried, as the alert's message names it (the console words it). */
const OWNER_ACTIONS: Record<string, string> = {
  'back up': 'back_up',
  'cancel the backup of': 'cancel',
  'send data to': 'send',
  'read the chunks of': 'read',
  'see the restores and refusals of': 'activity',
  'register (by file)': 'register',
  name: 'name',
  'change the restorers of': 'restorers',
  scrub: 'scrub',
  'act on the pair of': 'pair',
};

/**
 * A caller acting on a volume of another operator's (BK-3): audited as
 * `overwrite_refused` and alerted as `overwrite_attempt`, whatever was
 * tried, then refused with `error`.
 */
export async function refuseNonOwner(
  deps: Pick<EscrowDeps, 'audit' | 'alerts'>,
  caller: Caller,
  volume: { readonly volumeId: string; readonly owner: string },
  action: string,
  error: DomainError,
): Promise<never> {
  await deps.audit.append({
    event: 'overwrite_refused',
    actor: caller.userId,
    volumeId: volume.volumeId,
    clientAddress: caller.clientAddress,
    details: { owner: volume.owner, action },
  });
  await deps.alerts.raise({
    kind: 'overwrite_attempt',
    userId: caller.userId,
    volumeId: volume.volumeId,
    clientAddress: caller.clientAddress,
    message: {
      code: 'overwrite_attempt',
      params: {
        userId: caller.userId,
        volumeId: volume.volumeId,
        owner: volume.owner,
        action: OWNER_ACTIONS[action] ?? action,
      },
    },
    sentence: `${caller.userId} tried to ${action} volume ${volume.volumeId}, which is registered to ${volume.owner}.`,
  });
  throw error;
}
