import { describe, expect, it } from 'vitest';
import type { RestorableVolume } from '@/core/contract';
import { latestGeneration, mergeCatalog } from './restore-catalog';

const policy = { kind: 'reusable', approvalRequired: false, expiresAt: null } as const;
const siteVolume = (volumeId: string, generations: number[]): RestorableVolume => ({
  volumeId,
  owner: 'operator',
  policy,
  state: 'active',
  unavailable: null,
  generations: generations.map((generation) => ({
    generation,
    manifestHash: 'a'.repeat(64),
    size: 1000 * generation,
    chunks: generation,
    committedAt: '2026-11-21T10:00:00.000Z',
  })),
});
const local = (volumeId: string, generation: number) => ({
  volumeId,
  generation,
  size: 1000 * generation,
  chunks: generation,
  completedAt: '2026-11-21T10:00:00.000Z',
});

describe('restorable rows (RS-1, RS-4)', () => {
  it('marks which generations this device holds', () => {
    const [row] = mergeCatalog([siteVolume('ext4:a', [1, 2])], [local('ext4:a', 1)]);
    expect(row).toMatchObject({ onSite: true, local: true });
    expect(row!.generations.map((g) => [g.generation, g.onSite, g.local])).toEqual([
      [1, true, true],
      [2, true, false],
    ]);
    expect(latestGeneration(row!)?.generation).toBe(2);
  });

  it('keeps volumes only this device holds, after the site’s', () => {
    const rows = mergeCatalog(
      [siteVolume('ext4:a', [1])],
      [local('ext4:b', 3), local('ext4:b', 2)],
    );
    expect(rows.map((r) => [r.volumeId, r.onSite, r.local, r.owner])).toEqual([
      ['ext4:a', true, false, 'operator'],
      ['ext4:b', false, true, null],
    ]);
    expect(rows[1]!.generations.map((g) => g.generation)).toEqual([2, 3]);
  });
});
