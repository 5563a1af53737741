import { beforeAll, describe, expect, it } from 'vitest';
import { fromUtf8 } from './bytes';
import { generateDeviceKeyPair } from './device-key';
import { BadSignatureError, MalformedReceiptError, ReceiptMismatchError } from './errors';
import {
  parseReceipt,
  restorerListHash,
  serializeReceipt,
  signReceipt,
  verifyReceipt,
  type Receipt,
  type ReceiptStatement,
} from './receipt';

const hex = (c: string) => c.repeat(64);

async function statement(): Promise<Omit<ReceiptStatement, 'type' | 'format'>> {
  return {
    volumeId: 'iso9660:PHOTOS:2026-11-21-13-30-00-00',
    generation: 2,
    manifestHash: hex('a'),
    owner: 'operator',
    restorerListHash: await restorerListHash(['restorer', 'operator']),
    policy: { kind: 'one-time', approvalRequired: false, expiresAt: null },
    counter: '9007199254740993',
    issuedAt: '2026-11-21T13:30:00.000Z',
    siteId: 'site-tokyo',
    deviceKeyFingerprint: hex('b'),
    auditChainHead: hex('c'),
  };
}

describe('receipts (BK-10)', () => {
  let site: CryptoKeyPair;
  let receipt: Receipt;
  beforeAll(async () => {
    site = await generateDeviceKeyPair();
    receipt = await signReceipt(await statement(), site.privateKey);
  });

  it('hashes a restorer list as a set', async () => {
    const a = await restorerListHash(['restorer', 'operator', 'restorer']);
    expect(a).toBe(await restorerListHash(['operator', 'restorer']));
    expect(a).not.toBe(await restorerListHash(['operator']));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('verifies signature and content, and round-trips through its file form', async () => {
    const expected = await statement();
    const verified = await verifyReceipt(serializeReceipt(receipt), site.publicKey, expected);
    expect(verified).toMatchObject(expected);
    expect(fromUtf8(serializeReceipt(receipt))).toContain('"counter":"9007199254740993"');
    expect(parseReceipt(fromUtf8(serializeReceipt(receipt)))).toEqual(receipt);
  });

  it('refuses a receipt signed by another site or altered after signing', async () => {
    const other = await generateDeviceKeyPair();
    await expect(verifyReceipt(receipt, other.publicKey)).rejects.toThrow(BadSignatureError);
    const altered = structuredClone(receipt);
    altered.statement.generation = 3;
    await expect(verifyReceipt(altered, site.publicKey)).rejects.toThrow(BadSignatureError);
  });

  it('refuses a receipt that says something else than what was registered', async () => {
    const cases: Partial<ReceiptStatement>[] = [
      { manifestHash: hex('d') },
      { generation: 1 },
      { restorerListHash: await restorerListHash(['operator']) },
      { policy: { kind: 'reusable', approvalRequired: false, expiresAt: null } },
      { deviceKeyFingerprint: hex('e') },
    ];
    for (const expected of cases) {
      const error = await verifyReceipt(receipt, site.publicKey, expected).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReceiptMismatchError);
      expect((error as ReceiptMismatchError).field).toBe(Object.keys(expected)[0]);
    }
  });

  it('gives malformed receipts a typed error', async () => {
    const bad: unknown[] = [
      'nope',
      new Uint8Array([0xc3]),
      {},
      { ...receipt, statement: { ...receipt.statement, counter: 12 } },
      { ...receipt, statement: { ...receipt.statement, counter: '012' } },
      { ...receipt, statement: { ...receipt.statement, owner: 'a b' } },
      { ...receipt, signature: receipt.signature.slice(1) },
      { ...receipt, extra: true },
    ];
    for (const input of bad) {
      await expect(verifyReceipt(input, site.publicKey)).rejects.toThrow(MalformedReceiptError);
    }
    await expect(
      signReceipt({ ...(await statement()), counter: '-1' }, site.privateKey),
    ).rejects.toThrow(/counter/);
  });
});
