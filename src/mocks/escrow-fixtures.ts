import type { RecordDetail } from '@/core/contract';
import { toBase64Url } from '@/core/crypto/bytes';

type DemoGeneration = RecordDetail['generations'][number];

const hex = (digit: string): string => digit.repeat(64);

/**
 * A committed generation with its receipt, shaped as the site stores them
 * (BK-10), for demo records and component tests. The signature is not one
 * the site made: the admin screens show receipts, they do not verify them.
 */
export function demoGeneration(
  volumeId: string,
  generation: number,
  options: { owner?: string; committedAt?: string; size?: number; counter?: string } = {},
): DemoGeneration {
  const committedAt = options.committedAt ?? '2026-11-20T10:00:00.000Z';
  return {
    generation,
    manifestHash: hex('a'),
    size: options.size ?? 3 * 1024 * 1024,
    chunks: 1,
    committedAt,
    receipt: {
      statement: {
        type: 'custodian-receipt',
        format: 1,
        volumeId,
        generation,
        manifestHash: hex('a'),
        owner: options.owner ?? 'operator',
        restorerListHash: hex('b'),
        policy: { kind: 'reusable', approvalRequired: false, expiresAt: null },
        counter: options.counter ?? String(generation),
        issuedAt: committedAt,
        siteId: 'demo-site-0001',
        deviceKeyFingerprint: hex('c'),
        auditChainHead: hex('d'),
      },
      signature: toBase64Url(new Uint8Array(64)),
    },
  };
}
