import type { ScrubRequest, ScrubResult } from '../../../../src/core/contract';
import { ciphertextHash } from '../../../../src/core/crypto/chunk';
import { parseManifest } from '../../../../src/core/crypto/manifest';
import { DomainError } from '../errors';
import { nowIso, type Caller, type EscrowDeps } from './context';
import { refuseNonOwner } from './non-owner';
import { notFound } from './volumes';

/**
 * RS-9 at the site: re-hash stored blobs against a generation's signed index,
 * without any key. Owners and administrators may scrub.
 */
export async function scrubVolume(
  deps: EscrowDeps,
  caller: Caller,
  volumeId: string,
  request: ScrubRequest,
): Promise<ScrubResult> {
  const volume = await deps.store.volumes.find(volumeId);
  if (!volume) throw notFound(volumeId);
  if (volume.owner !== caller.userId && !caller.roles.includes('admin')) {
    await refuseNonOwner(
      deps,
      caller,
      volume,
      'scrub',
      new DomainError(
        'forbidden',
        'Only the owner or an administrator can scrub this volume.',
        403,
      ),
    );
  }
  const generation = request.generation
    ? await deps.store.generations.find(volumeId, request.generation)
    : await deps.store.generations.latest(volumeId);
  if (!generation)
    throw new DomainError(
      'generation_not_found',
      `Volume ${volumeId} has no such generation.`,
      404,
    );
  const { index } = parseManifest(generation.manifest);
  const end = Math.min(index.chunks.length, request.from + (request.count ?? index.chunks.length));
  const bad: ScrubResult['bad'] = [];
  const good: string[] = [];
  for (let i = request.from; i < end; i++) {
    const entry = index.chunks[i]!;
    const blob = await deps.blobs.get(volumeId, entry.chunkId);
    if (!blob) bad.push({ index: i, chunkId: entry.chunkId, problem: 'missing' });
    else if ((await ciphertextHash(blob)) !== entry.ciphertextSha256)
      bad.push({ index: i, chunkId: entry.chunkId, problem: 'hash_mismatch' });
    else good.push(entry.chunkId);
  }
  await deps.store.chunks.markVerified(volumeId, good, nowIso(deps));
  await deps.audit.append({
    event: 'volume_scrubbed',
    actor: caller.userId,
    volumeId,
    clientAddress: caller.clientAddress,
    details: {
      generation: generation.generation,
      from: request.from,
      checked: end - request.from,
      bad: bad.length,
    },
  });
  if (bad.length) {
    await deps.alerts.raise({
      kind: 'integrity_failure',
      userId: caller.userId,
      volumeId,
      clientAddress: caller.clientAddress,
      message: {
        code: 'scrub_damaged',
        params: { volumeId, generation: generation.generation, count: bad.length },
      },
      sentence: `A scrub of ${volumeId} generation ${generation.generation} found ${bad.length} damaged or missing chunk(s) at the site (tampered?).`,
    });
  }
  return {
    volumeId,
    generation: generation.generation,
    total: index.chunks.length,
    from: request.from,
    checked: Math.max(0, end - request.from),
    bad,
  };
}
