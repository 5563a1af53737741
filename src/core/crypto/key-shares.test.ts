/**
 * Threshold escrow (MS-4, MS-5; docs/FORMAT.md "Key shares"): any k of the n
 * shares give a key back, fewer give nothing usable, shares of different keys
 * never mix into either, and the whole path — split, seal to every site, the
 * site's re-wrap, open, combine — rebuilds keys that encrypt as the originals
 * do, naming the site whose share does not fit.
 */

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { combine, split } from 'shamir-secret-sharing';
import { beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url, toHex, utf8 } from './bytes';
import { computeChunkId } from './chunk';
import {
  openEnvelope,
  openEnvelopePayload,
  readEnvelopeContext,
  rewrapEnvelope,
  sealEnvelope,
} from './envelope';
import { generateEnvelopeKeyPair } from './envelope-key';
import { EnvelopeContextError, KeySharesError, MalformedEnvelopeError } from './errors';
import {
  combineReleases,
  keyCheck,
  openSiteRelease,
  sealToSites,
  wipeRelease,
  type ShareExpectation,
  type SiteRelease,
} from './key-shares';
import {
  exportRawKey,
  generateChunkIdKey,
  generateDataKey,
  importChunkIdKey,
  importDataKey,
  type VolumeKeys,
} from './keys';
import { VOLUME_KEY_SHARES_TYPE, type VolumeKeySharesPayload } from './volume-keys-payload';

const volumeId = 'iso9660:SHARED_VOLUME:2026-11-21-13-30-00-00';
const EPOCHS = [1, 2, 5];

/** Equal keys give equal HMACs (chunk-ID key) or open each other's AES-GCM (data keys). */
async function sameKey(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const probe = utf8('probe');
  if (a.algorithm.name === 'HMAC') {
    const [x, y] = await Promise.all([computeChunkId(a, probe), computeChunkId(b, probe)]);
    return toBase64Url(x) === toBase64Url(y);
  }
  const iv = new Uint8Array(12);
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, a, probe);
  const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, b, sealed).catch(() => null);
  return opened !== null;
}

async function sameKeys(a: VolumeKeys, b: VolumeKeys, epochs = EPOCHS): Promise<boolean> {
  if (a.volumeId !== b.volumeId) return false;
  if (!(await sameKey(a.chunkIdKey, b.chunkIdKey))) return false;
  if ([...b.dataKeys.keys()].sort((x, y) => x - y).join(',') !== epochs.join(',')) return false;
  for (const epoch of epochs) {
    if (!(await sameKey(a.dataKeys.get(epoch)!, b.dataKeys.get(epoch)!))) return false;
  }
  return true;
}

async function makeKeys(id = volumeId, epochs = EPOCHS): Promise<VolumeKeys> {
  const dataKeys = new Map<number, CryptoKey>();
  for (const epoch of epochs) dataKeys.set(epoch, await generateDataKey({ extractable: true }));
  return { volumeId: id, chunkIdKey: await generateChunkIdKey({ extractable: true }), dataKeys };
}

/** The same failure as `promise`'s, or a test failure if it resolves. */
async function sharesError(promise: Promise<unknown>): Promise<KeySharesError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a KeySharesError');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeySharesError);
  return error as KeySharesError;
}

function copyRelease(release: SiteRelease, changes: Partial<SiteRelease> = {}): SiteRelease {
  if (release.kind !== 'shares') return { ...release, ...changes } as SiteRelease;
  return {
    ...release,
    chunkIdKey: { ...release.chunkIdKey, share: release.chunkIdKey.share.slice() },
    dataKeys: new Map(
      [...release.dataKeys].map(([e, s]) => [e, { ...s, share: s.share.slice() }] as const),
    ),
    ...changes,
  } as SiteRelease;
}

/** A copy of a release with one byte of one share flipped (`epoch` undefined: the chunk-ID key's). */
function tampered(release: SiteRelease, epoch?: number, byte = 7): SiteRelease {
  const copy = copyRelease(release);
  if (copy.kind !== 'shares') throw new Error('not shares');
  const share = epoch === undefined ? copy.chunkIdKey.share : copy.dataKeys.get(epoch)!.share;
  share[byte]! ^= 0x01;
  return copy;
}

/** fast-check: n in 2 … 7, k in 2 … n, and a subset of the n share indices. */
const nAndK = fc
  .integer({ min: 2, max: 7 })
  .chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 2, max: n }) }));
const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const indices = (n: number) => [...Array(n).keys()];

describe('Shamir shares of a key (shamir-secret-sharing, GF(2^8))', () => {
  it('gives the key back from any k of the n shares, in any order', async () => {
    await fc.assert(
      fc.asyncProperty(
        key32,
        nAndK.chain(({ n, k }) =>
          fc.record({
            n: fc.constant(n),
            k: fc.constant(k),
            chosen: fc.shuffledSubarray(indices(n), { minLength: k, maxLength: n }),
          }),
        ),
        async (key, { n, k, chosen }) => {
          const shares = await split(key, n, k);
          expect(shares).toHaveLength(n);
          for (const share of shares) expect(share).toHaveLength(33);
          // x coordinates: distinct, 1 … 255.
          const xs = shares.map((s) => s[32]!);
          expect(new Set(xs).size).toBe(n);
          for (const x of xs) expect(x).toBeGreaterThanOrEqual(1);
          expect(toHex(await combine(chosen.slice(0, k).map((i) => shares[i]!)))).toBe(toHex(key));
          // More than k shares agree as well.
          expect(toHex(await combine(chosen.map((i) => shares[i]!)))).toBe(toHex(key));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives nothing usable from k − 1 shares', async () => {
    await fc.assert(
      fc.asyncProperty(
        key32,
        fc
          .integer({ min: 3, max: 7 })
          .chain((n) => fc.record({ n: fc.constant(n), k: fc.integer({ min: 3, max: n }) }))
          .chain(({ n, k }) =>
            fc.record({
              n: fc.constant(n),
              k: fc.constant(k),
              chosen: fc.shuffledSubarray(indices(n), { minLength: k - 1, maxLength: k - 1 }),
            }),
          ),
        async (key, { n, k, chosen }) => {
          const shares = await split(key, n, k);
          const rebuilt = await combine(chosen.map((i) => shares[i]!)).catch(() => null);
          if (rebuilt !== null) expect(toHex(rebuilt)).not.toBe(toHex(key));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('k − 1 shares are consistent with every key: the k-th share decides (information-theoretic)', async () => {
    // With k = 2 and one share (x1, y1) known, for every candidate key byte s
    // some share at x2 makes the pair rebuild s: one share alone says nothing.
    const key = crypto.getRandomValues(new Uint8Array(1));
    const [first, second] = await split(key, 2, 2);
    const reachable = new Set<number>();
    for (let y = 0; y < 256; y++) {
      const forged = Uint8Array.of(y, second![1]!);
      reachable.add((await combine([first!, forged]))[0]!);
    }
    expect(reachable.size).toBe(256);
  });

  it('never combines shares of two different keys into either key', async () => {
    await fc.assert(
      fc.asyncProperty(
        key32,
        key32,
        nAndK.chain(({ n, k }) =>
          fc.record({
            n: fc.constant(n),
            k: fc.constant(k),
            chosen: fc.shuffledSubarray(indices(n), { minLength: k, maxLength: k }),
            fromB: fc.integer({ min: 1, max: k - 1 }),
          }),
        ),
        async (a, b, { n, k, chosen, fromB }) => {
          fc.pre(toHex(a) !== toHex(b));
          const [sharesA, sharesB] = [await split(a, n, k), await split(b, n, k)];
          const mixed = chosen.map((i, j) => (j < fromB ? sharesB[i]! : sharesA[i]!));
          const rebuilt = await combine(mixed).catch(() => null);
          if (rebuilt !== null) {
            expect(toHex(rebuilt)).not.toBe(toHex(a));
            expect(toHex(rebuilt)).not.toBe(toHex(b));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('combineReleases rebuilds the keys from any k shares and refuses k − 1', async () => {
    await fc.assert(
      fc.asyncProperty(
        key32,
        key32,
        nAndK.chain(({ n, k }) =>
          fc.record({
            n: fc.constant(n),
            k: fc.constant(k),
            chosen: fc.shuffledSubarray(indices(n), { minLength: k, maxLength: k }),
          }),
        ),
        async (chunkIdRaw, dataRaw, { n, k, chosen }) => {
          const sites = indices(n).map((i) => `site-${i}`);
          const [idShares, dataShares] = [
            await split(chunkIdRaw, n, k),
            await split(dataRaw, n, k),
          ];
          const [idCheck, dataCheck] = [await keyCheck(chunkIdRaw), await keyCheck(dataRaw)];
          const release = (i: number): SiteRelease => ({
            kind: 'shares',
            siteId: sites[i]!,
            madeFor: sites[i]!,
            volumeId,
            threshold: k,
            shares: n,
            chunkIdKey: { share: idShares[i]!, check: idCheck },
            dataKeys: new Map([[3, { share: dataShares[i]!, check: dataCheck }]]),
          });
          const expected: ShareExpectation = { volumeId, threshold: k, sites, epochs: [3] };
          const { keys, badSites } = await combineReleases(chosen.map(release), expected);
          expect(badSites).toEqual([]);
          expect(keys.chunkIdKey.extractable).toBe(false);
          const original = {
            volumeId,
            chunkIdKey: await importChunkIdKey(chunkIdRaw.slice()),
            dataKeys: new Map([[3, await importDataKey(dataRaw.slice())]]),
          };
          expect(await sameKeys(original, keys, [3])).toBe(true);
          const few = await sharesError(combineReleases(chosen.slice(1).map(release), expected));
          expect(few.failure).toBe('too-few');
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('key check', () => {
  it('is the first 16 bytes of SHA-256("custodian-key-check" ‖ 0x00 ‖ key), hex', async () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const expected = createHash('sha256')
      .update(Buffer.from('custodian-key-check', 'utf8'))
      .update(Buffer.of(0))
      .update(key)
      .digest()
      .subarray(0, 16)
      .toString('hex');
    expect(await keyCheck(key)).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{32}$/);
    expect(await keyCheck(Uint8Array.from({ length: 32 }, (_, i) => i + 1))).not.toBe(expected);
  });
});

describe('threshold escrow to several sites (MS-4, MS-5)', () => {
  const SITES = ['site-a', 'site-b', 'site-c', 'site-d', 'site-e'];
  let keys: VolumeKeys;
  let pairs: Map<string, CryptoKeyPair>;
  let envelopes: Map<string, string>;
  let releases: Map<string, SiteRelease>;
  const expected = (threshold = 3, epochs = EPOCHS): ShareExpectation => ({
    volumeId,
    threshold,
    sites: SITES,
    epochs,
  });
  const recipients = () =>
    SITES.map((siteId) => ({ siteId, escrowKey: pairs.get(siteId)!.publicKey }));
  const pick = (...sites: string[]) => sites.map((s) => releases.get(s)!);

  beforeAll(async () => {
    keys = await makeKeys();
    pairs = new Map();
    for (const site of SITES) pairs.set(site, await generateEnvelopeKeyPair());
    envelopes = await sealToSites(keys, recipients(), 3, { purpose: 'escrow' });
    releases = new Map();
    for (const [siteId, jwe] of envelopes) {
      releases.set(
        siteId,
        await openSiteRelease(siteId, jwe, pairs.get(siteId)!.privateKey, {
          purpose: 'escrow',
          volumeId,
          epochs: EPOCHS,
        }),
      );
    }
  });

  it('seals one envelope per site holding only that site’s shares, each named by its key check', async () => {
    expect([...envelopes.keys()]).toEqual(SITES);
    const raw = [await exportRawKey(keys.chunkIdKey)];
    for (const epoch of EPOCHS) raw.push(await exportRawKey(keys.dataKeys.get(epoch)!));
    const checks = await Promise.all(raw.map(keyCheck));
    const xs: number[][] = raw.map(() => []);
    for (const site of SITES) {
      const jwe = envelopes.get(site)!;
      expect(readEnvelopeContext(jwe)).toEqual({ purpose: 'escrow', volumeId, epochs: EPOCHS });
      const opened = await openEnvelopePayload(jwe, pairs.get(site)!.privateKey, {
        purpose: 'escrow',
      });
      const payload = opened.payload as VolumeKeySharesPayload;
      expect(payload).toMatchObject({
        type: VOLUME_KEY_SHARES_TYPE,
        format: 1,
        volumeId,
        siteId: site,
        threshold: 3,
        shares: 5,
        chunkIdKeyCheck: checks[0],
      });
      expect(payload.dataKeys.map((k) => [k.epoch, k.check])).toEqual(
        EPOCHS.map((e, i) => [e, checks[i + 1]]),
      );
      // No raw key is in a share payload.
      const text = new TextDecoder().decode(opened.bytes);
      for (const key of raw) expect(text).not.toContain(toBase64Url(key));
      const release = releases.get(site)!;
      if (release.kind !== 'shares') throw new Error('expected shares');
      expect(release.chunkIdKey.share).toHaveLength(33);
      xs[0]!.push(release.chunkIdKey.share[32]!);
      EPOCHS.forEach((e, i) => xs[i + 1]!.push(release.dataKeys.get(e)!.share[32]!));
      // Another site's escrow key does not open it.
      const other = SITES.find((s) => s !== site)!;
      await expect(
        openSiteRelease(site, jwe, pairs.get(other)!.privateKey, { purpose: 'escrow' }),
      ).rejects.toThrow();
    }
    // One independent split per key: x coordinates distinct among the sites for every key.
    for (const perKey of xs) expect(new Set(perKey).size).toBe(SITES.length);
    // A share envelope is not a keys envelope.
    await expect(
      openEnvelope(envelopes.get('site-a')!, pairs.get('site-a')!.privateKey, {
        purpose: 'escrow',
      }),
    ).rejects.toThrow(MalformedEnvelopeError);
  });

  it('rebuilds keys that encrypt and MAC as the originals from every 3 of the 5 sites', async () => {
    const triples: string[][] = [];
    for (let a = 0; a < 5; a++)
      for (let b = a + 1; b < 5; b++)
        for (let c = b + 1; c < 5; c++) triples.push([SITES[a]!, SITES[b]!, SITES[c]!]);
    expect(triples).toHaveLength(10);
    for (const triple of triples) {
      const combined = await combineReleases(pick(...triple), expected());
      expect(combined.badSites).toEqual([]);
      expect(combined.keys.volumeId).toBe(volumeId);
      expect(combined.keys.chunkIdKey.extractable).toBe(false);
      expect(await sameKeys(keys, combined.keys)).toBe(true);
    }
    // All five, in any order, agree.
    const all = await combineReleases(pick(...[...SITES].reverse()), expected());
    expect(all.badSites).toEqual([]);
    expect(await sameKeys(keys, all.keys)).toBe(true);
  });

  it('names a site whose share was tampered with and still restores when n > k', async () => {
    for (const epoch of [undefined, 2]) {
      const releasesWithBad = [
        releases.get('site-a')!,
        tampered(releases.get('site-b')!, epoch),
        releases.get('site-c')!,
        releases.get('site-d')!,
      ];
      const combined = await combineReleases(releasesWithBad, expected());
      expect(combined.badSites).toEqual(['site-b']);
      expect(await sameKeys(keys, combined.keys)).toBe(true);
    }
    // A wrong check value (share bytes intact) is as bad as a wrong share.
    const release = copyRelease(releases.get('site-e')!);
    if (release.kind !== 'shares') throw new Error('expected shares');
    const wrongCheck = { ...release, chunkIdKey: { ...release.chunkIdKey, check: '0'.repeat(32) } };
    const combined = await combineReleases(
      [wrongCheck, ...pick('site-a', 'site-b', 'site-c')],
      expected(),
    );
    expect(combined.badSites).toEqual(['site-e']);
    expect(await sameKeys(keys, combined.keys)).toBe(true);
  });

  it('refuses exactly k shares when one is tampered with (do-not-combine)', async () => {
    const error = await sharesError(
      combineReleases(
        [releases.get('site-a')!, tampered(releases.get('site-b')!, 5), releases.get('site-c')!],
        expected(),
      ),
    );
    expect(error.failure).toBe('do-not-combine');
    expect(error.code).toBe('key_shares');
    expect([...error.sites].sort()).toEqual(['site-a', 'site-b', 'site-c']);
  });

  it('refuses fewer than k shares (too-few)', async () => {
    for (const sites of [[], ['site-a'], ['site-d', 'site-e']]) {
      const error = await sharesError(combineReleases(pick(...sites), expected()));
      expect(error.failure).toBe('too-few');
      expect(error.message).toContain(`${sites.length} of the 3 shares`);
    }
  });

  it('does not use, and names, a share of another volume or made for another site', async () => {
    // Another volume's share, sealed to site-c's own escrow key.
    const otherKeys = await makeKeys('ext4:other-volume');
    const otherEnvelopes = await sealToSites(otherKeys, recipients(), 3, { purpose: 'escrow' });
    const otherVolume = await openSiteRelease(
      'site-c',
      otherEnvelopes.get('site-c')!,
      pairs.get('site-c')!.privateKey,
      { purpose: 'escrow' },
    );
    // The restorer would refuse it already by its header when it asks for the volume.
    await expect(
      openSiteRelease('site-c', otherEnvelopes.get('site-c')!, pairs.get('site-c')!.privateKey, {
        purpose: 'escrow',
        volumeId,
      }),
    ).rejects.toThrow(EnvelopeContextError);
    // site-d answers with the share made for site-e.
    const madeForE = await openSiteRelease(
      'site-d',
      envelopes.get('site-e')!,
      pairs.get('site-e')!.privateKey,
      { purpose: 'escrow', volumeId },
    );
    expect(madeForE.kind === 'shares' && madeForE.madeFor).toBe('site-e');

    for (const [intruder, site] of [
      [otherVolume, 'site-c'],
      [madeForE, 'site-d'],
    ] as const) {
      const enough = await combineReleases(
        [releases.get('site-a')!, intruder, ...pick('site-b', 'site-e')],
        expected(),
      );
      expect(enough.badSites).toEqual([site]);
      expect(await sameKeys(keys, enough.keys)).toBe(true);
      const short = await sharesError(
        combineReleases([releases.get('site-a')!, intruder, releases.get('site-b')!], expected()),
      );
      expect(short.failure).toBe('wrong-site');
      expect(short.sites).toEqual([site]);
      expect(short.message).toContain(site);
    }

    // A share of the right volume from a site the manifest does not list, or for another threshold.
    const stranger = copyRelease(releases.get('site-a')!, { siteId: 'site-x', madeFor: 'site-x' });
    const otherThreshold = copyRelease(releases.get('site-b')!, { threshold: 2 });
    const error = await sharesError(
      combineReleases([stranger, otherThreshold, releases.get('site-c')!], expected()),
    );
    expect(error.failure).toBe('wrong-site');
    expect([...error.sites].sort()).toEqual(['site-b', 'site-x']);
  });

  it('refuses the same share delivered by two sites when it leaves fewer than k (duplicate)', async () => {
    // site-b passes on site-a's share as its own.
    const copied = copyRelease(releases.get('site-a')!, { siteId: 'site-b', madeFor: 'site-b' });
    const error = await sharesError(
      combineReleases([releases.get('site-a')!, copied, releases.get('site-c')!], expected()),
    );
    expect(error.failure).toBe('duplicate');
    // Which of the two copied cannot be told from the shares: both are named.
    expect([...error.sites].sort()).toEqual(['site-a', 'site-b']);
    // One site answering twice.
    const twice = await sharesError(
      combineReleases(pick('site-a', 'site-a', 'site-c'), expected()),
    );
    expect(twice.failure).toBe('duplicate');
    expect(twice.sites).toEqual(['site-a']);
    // With k different shares besides, the restore works and names the copier.
    const combined = await combineReleases(
      [releases.get('site-a')!, copied, ...pick('site-c', 'site-d')],
      expected(),
    );
    expect(combined.badSites).toEqual(['site-b']);
    expect(await sameKeys(keys, combined.keys)).toBe(true);
  });

  it('gives every site the whole keys with threshold 1', async () => {
    const whole = await sealToSites(keys, recipients().slice(0, 3), 1, { purpose: 'escrow' });
    expect([...whole.keys()]).toEqual(SITES.slice(0, 3));
    for (const [site, jwe] of whole) {
      const opened = await openEnvelope(jwe, pairs.get(site)!.privateKey, {
        purpose: 'escrow',
        volumeId,
        epochs: EPOCHS,
      });
      expect(await sameKeys(keys, opened.keys)).toBe(true);
      const release = await openSiteRelease(site, jwe, pairs.get(site)!.privateKey, {
        purpose: 'escrow',
      });
      expect(release.kind).toBe('keys');
      const combined = await combineReleases([release], {
        volumeId,
        threshold: 1,
        sites: SITES.slice(0, 3),
        epochs: EPOCHS,
      });
      expect(combined.badSites).toEqual([]);
      expect(await sameKeys(keys, combined.keys)).toBe(true);
    }
    // Whole keys where the manifest asks for shares are not used.
    const release = await openSiteRelease(
      'site-a',
      whole.get('site-a')!,
      pairs.get('site-a')!.privateKey,
      { purpose: 'escrow' },
    );
    const combined = await combineReleases(
      [release, ...pick('site-b', 'site-c', 'site-d')],
      expected(),
    );
    expect(combined.badSites).toEqual(['site-a']);
  });

  it('refuses a threshold out of range and a site listed twice', async () => {
    for (const threshold of [0, -1, 6, 2.5, Number.NaN]) {
      const error = await sharesError(
        sealToSites(keys, recipients(), threshold, { purpose: 'escrow' }),
      );
      expect(error.failure).toBe('too-few');
    }
    const twice = [...recipients(), recipients()[0]!];
    const error = await sharesError(sealToSites(keys, twice, 2, { purpose: 'escrow' }));
    expect(error.failure).toBe('duplicate');
  });

  it('is re-wrapped by each site to the restorer with its share kept and epochs filtered (RS-2)', async () => {
    const restorer = await generateEnvelopeKeyPair();
    const context = {
      purpose: 'release' as const,
      volumeId,
      epochs: [5, 2],
      generation: 4,
      requestId: 'req-7',
    };
    const rewrapped: SiteRelease[] = [];
    for (const site of ['site-e', 'site-b', 'site-d']) {
      const jwe = await rewrapEnvelope(
        envelopes.get(site)!,
        pairs.get(site)!.privateKey,
        restorer.publicKey,
        context,
      );
      expect(readEnvelopeContext(jwe)).toEqual({ ...context, epochs: [2, 5] });
      const expectedRelease = { purpose: 'release', volumeId, requestId: 'req-7' } as const;
      const opened = await openEnvelopePayload(jwe, restorer.privateKey, expectedRelease);
      const payload = opened.payload as VolumeKeySharesPayload;
      const escrowed = (
        await openEnvelopePayload(envelopes.get(site)!, pairs.get(site)!.privateKey, {
          purpose: 'escrow',
        })
      ).payload as VolumeKeySharesPayload;
      expect(payload).toEqual({
        ...escrowed,
        dataKeys: escrowed.dataKeys.filter((k) => k.epoch !== 1),
      });
      const release = await openSiteRelease(site, jwe, restorer.privateKey, expectedRelease);
      expect(release.kind === 'shares' && [...release.dataKeys.keys()]).toEqual([2, 5]);
      rewrapped.push(release);
      // The site cannot pass on an epoch it does not hold.
      await expect(
        rewrapEnvelope(envelopes.get(site)!, pairs.get(site)!.privateKey, restorer.publicKey, {
          ...context,
          epochs: [3],
        }),
      ).rejects.toThrow(EnvelopeContextError);
    }
    const combined = await combineReleases(rewrapped, expected(3, [2, 5]));
    expect(combined.badSites).toEqual([]);
    const { dataKeys } = combined.keys;
    expect([...dataKeys.keys()]).toEqual([2, 5]);
    expect(await sameKey(keys.chunkIdKey, combined.keys.chunkIdKey)).toBe(true);
    for (const epoch of [2, 5]) {
      expect(await sameKey(keys.dataKeys.get(epoch)!, dataKeys.get(epoch)!)).toBe(true);
    }
    // A release lacking an epoch the restore needs is not used.
    const error = await sharesError(combineReleases(rewrapped, expected(3, [1, 2, 5])));
    expect(error.failure).toBe('wrong-site');
    rewrapped.forEach(wipeRelease);
  });

  it('keeps an honest share whose x a site that answered first copied (order must not matter)', async () => {
    // site-b sends its own (useless) share but with site-a's x coordinate on
    // the chunk-ID key share; a, c and d are honest and k = 3.
    const a = releases.get('site-a')!;
    const b = copyRelease(releases.get('site-b')!);
    if (a.kind !== 'shares' || b.kind !== 'shares') throw new Error('expected shares');
    b.chunkIdKey.share[32] = a.chunkIdKey.share[32]!;
    // a first: works, b named.
    const aFirst = await combineReleases([a, b, ...pick('site-c', 'site-d')], expected());
    expect(aFirst.badSites).toEqual(['site-b']);
    // b first: the order of the answers does not matter.
    const bFirst = await combineReleases([b, a, ...pick('site-c', 'site-d')], expected());
    expect(bFirst.badSites).toEqual(['site-b']);
  });

  it('does not hand out whole keys of another volume with threshold 1', async () => {
    const otherKeys = await makeKeys('ext4:other-volume', [9]);
    const site = pairs.get('site-a')!;
    const jwe = await sealEnvelope(otherKeys, site.publicKey, { purpose: 'escrow' });
    const release = await openSiteRelease('site-a', jwe, site.privateKey, { purpose: 'escrow' });
    await expect(
      combineReleases([release], { volumeId, threshold: 1, sites: SITES, epochs: EPOCHS }),
    ).rejects.toThrow(KeySharesError);
  });

  it('validates the envelope context as sealEnvelope does', async () => {
    await expect(
      sealToSites(keys, recipients(), 2, { purpose: 'bogus' as 'escrow' }),
    ).rejects.toThrow(MalformedEnvelopeError);
  });

  it('wipes the share bytes of a release', () => {
    const release = copyRelease(releases.get('site-a')!);
    wipeRelease(release);
    if (release.kind !== 'shares') throw new Error('expected shares');
    expect(release.chunkIdKey.share.every((b) => b === 0)).toBe(true);
    for (const { share } of release.dataKeys.values())
      expect(share.every((b) => b === 0)).toBe(true);
  });

  it('seals whole keys with sealEnvelope and shares with sealToSites under the same header', async () => {
    const single = await sealEnvelope(keys, pairs.get('site-a')!.publicKey, { purpose: 'escrow' });
    expect(readEnvelopeContext(single)).toEqual(readEnvelopeContext(envelopes.get('site-a')!));
  });
});
