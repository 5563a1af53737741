/**
 * RS-1: the rows of the table "Restorable volumes": what the site lists for
 * the signed-in user, joined with the generations this browser's local copy
 * holds (RS-4), so a volume shows where its copies are, and a local copy
 * stays visible while the site cannot be reached.
 */

import type { ReleasePolicy } from '@/core/crypto';
import type { RestorableVolume } from '@/core/contract';
import type { LocalGeneration } from './restore-local-copies';

export type UnavailableReason = NonNullable<RestorableVolume['unavailable']>;

export interface RowGeneration {
  readonly generation: number;
  /** Plaintext bytes. */
  readonly size: number;
  readonly chunks: number;
  readonly committedAt: string | null;
  readonly onSite: boolean;
  readonly local: boolean;
}

export interface RestorableRow {
  readonly volumeId: string;
  /** Null when only the local copy is known (the site did not answer). */
  readonly owner: string | null;
  readonly policy: ReleasePolicy | null;
  readonly unavailable: UnavailableReason | null;
  /** Oldest first. */
  readonly generations: readonly RowGeneration[];
  readonly onSite: boolean;
  readonly local: boolean;
}

export function latestGeneration(row: RestorableRow): RowGeneration | undefined {
  return row.generations.at(-1);
}

/** Site rows first in the site's order, then volumes only this browser holds. */
export function mergeCatalog(
  site: readonly RestorableVolume[],
  local: readonly LocalGeneration[],
): RestorableRow[] {
  const localByVolume = new Map<string, LocalGeneration[]>();
  for (const generation of local) {
    const list = localByVolume.get(generation.volumeId) ?? [];
    list.push(generation);
    localByVolume.set(generation.volumeId, list);
  }
  const rows: RestorableRow[] = site.map((volume) => {
    const held = localByVolume.get(volume.volumeId) ?? [];
    localByVolume.delete(volume.volumeId);
    const generations = new Map<number, RowGeneration>();
    for (const g of volume.generations) {
      generations.set(g.generation, {
        generation: g.generation,
        size: g.size,
        chunks: g.chunks,
        committedAt: g.committedAt,
        onSite: true,
        local: held.some((h) => h.generation === g.generation),
      });
    }
    for (const h of held) {
      if (generations.has(h.generation)) continue;
      generations.set(h.generation, { ...localGeneration(h), onSite: false });
    }
    return {
      volumeId: volume.volumeId,
      owner: volume.owner,
      policy: volume.policy,
      unavailable: volume.unavailable,
      generations: [...generations.values()].sort((a, b) => a.generation - b.generation),
      onSite: true,
      local: held.length > 0,
    };
  });
  for (const [volumeId, held] of localByVolume) {
    rows.push({
      volumeId,
      owner: null,
      policy: null,
      unavailable: null,
      generations: held.map(localGeneration).sort((a, b) => a.generation - b.generation),
      onSite: false,
      local: true,
    });
  }
  return rows;
}

function localGeneration(h: LocalGeneration): RowGeneration {
  return {
    generation: h.generation,
    size: h.size,
    chunks: h.chunks,
    committedAt: h.completedAt,
    onSite: false,
    local: true,
  };
}
