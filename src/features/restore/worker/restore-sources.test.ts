/**
 * Restore across sites, chunk by chunk (MS-5): the sources in their order,
 * a chunk missing, refused or unreachable at one site taken from the next,
 * a site that proved unreachable passed over for a while, a bad copy healed
 * from another site with exactly one report to the site that served it, the
 * restore stopped naming the chunk only when no source has a good copy, and
 * a restore pinned to one site reading that site only.
 */

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IntegrityReport } from '@/core/contract';
import {
  openManifestSecret,
  RestoreVerifier,
  TamperedChunkError,
  type ChunkEntry,
} from '@/core/crypto';
import {
  makeBackup,
  randomImage,
  type BackupFixture,
} from '@/core/crypto/test-support/backup-fixture';
import { ApiError, type RetryPolicy } from '@/shared/api/request';
import { InProcessDecryptPool } from './restore-decrypt-pool';
import { runRestorePipeline, type ImageSink, type PipelineProgress } from './restore-pipeline';
import {
  ChunkFailover,
  SiteCopySource,
  sourcesFor,
  UNREACHABLE_REST_MS,
  type ChunkAlert,
  type ChunkSource,
  type CopyName,
  type Patience,
} from './restore-sources';

const CHUNK = 256;
let backup: BackupFixture;

beforeAll(async () => {
  backup = await makeBackup(randomImage(6 * CHUNK + 10), { chunkSize: CHUNK });
});

afterEach(() => vi.unstubAllGlobals());

const idAt = (position: number): string => backup.manifest.index.chunks[position]!.chunkId;
const goodBlob = (position: number) => backup.blobs.get(idAt(position))!.slice();

function damagedBlob(position: number) {
  const blob = goodBlob(position);
  blob[20]! ^= 0x01;
  return blob;
}

const unreachable = () =>
  new ApiError('timeout', 'The site did not answer after 2 attempts over 0 s.', 0, {
    attempts: 2,
    seconds: 0,
  });
const refused = (status: number, code: string) => new ApiError(code, `Refused: ${code}.`, status);

/** What a source answers for the chunk at a position: a blob, none, or an error thrown. */
type Answer = Uint8Array<ArrayBuffer> | undefined | ApiError;

/** A copy in a test: answers per position (good blobs unless told otherwise), keeps what it was asked and told. */
class FakeSource implements ChunkSource {
  readonly reads: { position: number; patience: Patience }[] = [];
  readonly reports: IntegrityReport[] = [];
  readonly site: { readonly siteId: string; readonly name: string } | undefined;

  constructor(
    readonly name: CopyName,
    siteName: string | undefined,
    private readonly answers: ReadonlyMap<number, () => Answer> = new Map(),
  ) {
    this.site = siteName ? { siteId: `${siteName.toLowerCase()}-id`, name: siteName } : undefined;
  }

  async read(
    _volumeId: string,
    entry: ChunkEntry,
    _signal?: AbortSignal,
    patience: Patience = 'patient',
  ) {
    const position = backup.manifest.index.chunks.indexOf(entry);
    this.reads.push({ position, patience });
    const answer = (this.answers.get(position) ?? (() => goodBlob(position)))();
    if (answer instanceof ApiError) throw answer;
    return answer;
  }

  async report(report: IntegrityReport): Promise<void> {
    this.reports.push(report);
  }
}

/** This browser's local copy: it has no site to tell of a bad blob. */
class FakeLocal implements ChunkSource {
  readonly name = 'local';
  readonly reads: number[] = [];

  constructor(private readonly answers: ReadonlyMap<number, () => Answer> = new Map()) {}

  async read(_volumeId: string, entry: ChunkEntry) {
    const position = backup.manifest.index.chunks.indexOf(entry);
    this.reads.push(position);
    const answer = (this.answers.get(position) ?? (() => undefined))();
    if (answer instanceof ApiError) throw answer;
    return answer;
  }
}

const home = (answers?: ReadonlyMap<number, () => Answer>) =>
  new FakeSource('site', undefined, answers);
const other = (name: string, answers?: ReadonlyMap<number, () => Answer>) =>
  new FakeSource('site', name, answers);
const at = (position: number, answer: () => Answer) =>
  new Map<number, () => Answer>([[position, answer]]);

function memorySink(): ImageSink {
  return {
    truncate: async () => undefined,
    write: async () => undefined,
    flush: async () => undefined,
    close: async () => undefined,
    discard: async () => undefined,
  };
}

/** The whole restore over `sources`, with real crypto; its last progress, or its failure. */
async function restore(sources: readonly ChunkSource[]) {
  const secret = await openManifestSecret(backup.manifest, backup.keys.dataKeys);
  const verifier = await RestoreVerifier.create(backup.manifest.index, secret, backup.keys);
  const pool = new InProcessDecryptPool();
  await pool.init(backup.keys);
  let last: PipelineProgress | undefined;
  try {
    const sha256 = await runRestorePipeline({
      verifier,
      index: backup.manifest.index,
      sources,
      pool,
      sink: memorySink(),
      saveProgress: async () => undefined,
      onProgress: (progress) => {
        last = progress;
      },
      signal: new AbortController().signal,
      inFlight: 1,
    });
    return { sha256, progress: last! };
  } finally {
    pool.close();
  }
}

describe('sourcesFor (RS-4, MS-5)', () => {
  const local = new FakeLocal();
  const own = home();
  const osaka = other('Osaka');
  const kyoto = other('Kyoto');

  it('tries the local copy, this console’s site, then the other sites in the directory’s order', () => {
    expect(sourcesFor('automatic', local, own, [osaka, kyoto])).toEqual([local, own, osaka, kyoto]);
    expect(sourcesFor('site', local, own, [osaka, kyoto])).toEqual([own]);
    expect(sourcesFor('local', local, own, [osaka, kyoto])).toEqual([local]);
  });

  it('reads one other site only when pinned to it, and none when not signed in there', () => {
    expect(sourcesFor('site:kyoto-id', local, own, [osaka, kyoto])).toEqual([kyoto]);
    expect(sourcesFor('site:nara-id', local, own, [osaka, kyoto])).toEqual([]);
  });
});

describe('ChunkFailover (MS-5)', () => {
  it('takes a chunk missing at the first site from the next, and the others from the first', async () => {
    const own = home(at(2, () => undefined));
    const osaka = other('Osaka');
    const failover = new ChunkFailover([own, osaka], backup.manifest.index);
    const read = await failover.read(2);
    expect(read.source).toBe(osaka);
    expect(read.blob).toEqual(goodBlob(2));
    expect(read.passedOver).toEqual([{ copy: 'site', site: undefined, reason: 'missing' }]);
    expect((await failover.read(1)).source).toBe(own);
    expect(osaka.reads.map((r) => r.position)).toEqual([2]);
    expect([...own.reports, ...osaka.reports]).toEqual([]);
  });

  it.each([
    [403, 'forbidden'],
    [404, 'volume_not_found'],
    [401, 'unauthenticated'],
  ])('passes over a site that refuses with %i %s', async (status, code) => {
    const osaka = other(
      'Osaka',
      at(0, () => refused(status, code)),
    );
    const kyoto = other('Kyoto');
    const read = await new ChunkFailover(
      [home(at(0, () => undefined)), osaka, kyoto],
      backup.manifest.index,
    ).read(0);
    expect(read.source).toBe(kyoto);
    expect(read.passedOver.map((p) => [p.site, p.reason])).toEqual([
      [undefined, 'missing'],
      ['Osaka', 'refused'],
    ]);
  });

  it('passes over an unreachable site quickly, then lets it rest: later chunks do not wait for it until its rest is over', async () => {
    let now = 1_000;
    const own = home(new Map([0, 1, 2, 3].map((p) => [p, unreachable] as const)));
    const osaka = other('Osaka');
    const failover = new ChunkFailover([own, osaka], backup.manifest.index, { now: () => now });
    expect((await failover.read(0)).source).toBe(osaka);
    // While another source is left, the site gets a quick try, not the whole back-off.
    expect(own.reads).toEqual([{ position: 0, patience: 'quick' }]);
    expect((await failover.read(1)).source).toBe(osaka);
    now += UNREACHABLE_REST_MS - 1;
    expect((await failover.read(2)).source).toBe(osaka);
    expect(own.reads).toHaveLength(1);
    // Its rest is over: it is tried again, once.
    now += 1;
    expect((await failover.read(3)).source).toBe(osaka);
    expect(own.reads.map((r) => r.position)).toEqual([0, 3]);
    expect(osaka.reads.every((r) => r.patience === 'patient')).toBe(true);
  });

  it('asks a resting site patiently when no other source has the chunk, and uses it once it answers', async () => {
    let down = true;
    const own = home(
      new Map([
        [0, () => (down ? unreachable() : goodBlob(0))],
        [1, () => (down ? unreachable() : goodBlob(1))],
      ]),
    );
    const osaka = other(
      'Osaka',
      at(1, () => undefined),
    );
    const failover = new ChunkFailover([own, osaka], backup.manifest.index);
    expect((await failover.read(0)).source).toBe(osaka);
    down = false;
    const read = await failover.read(1);
    expect(read.source).toBe(own);
    expect(own.reads).toEqual([
      { position: 0, patience: 'quick' },
      { position: 1, patience: 'patient' },
    ]);
  });

  it('heals a chunk damaged at the first site from the second, telling only the first, once per chunk', async () => {
    const own = home(at(3, () => damagedBlob(3)));
    const osaka = other('Osaka');
    const alerts: ChunkAlert[] = [];
    const failover = new ChunkFailover([own, osaka], backup.manifest.index, {
      onAlert: (alert) => alerts.push(alert),
    });
    const read = await failover.read(3);
    expect(read.source).toBe(osaka);
    expect(read.blob).toEqual(goodBlob(3));
    expect(read.passedOver).toEqual([{ copy: 'site', site: undefined, reason: 'damaged' }]);
    // The same chunk again (a duplicate chunk, a second read): no second report.
    expect((await failover.read(3)).source).toBe(osaka);
    const report = {
      volumeId: backup.manifest.index.volumeId,
      generation: 1,
      source: 'site',
      check: 'index-hash',
      chunkIndex: 3,
      chunkId: idAt(3),
    };
    expect(own.reports).toEqual([report]);
    expect(osaka.reports).toEqual([]);
    expect(alerts).toEqual([
      { position: 3, chunkId: idAt(3), site: undefined, check: 'index-hash', delivered: true },
    ]);
  });

  it('tells another site of the bad copy it served, and not the local copy or this console’s site', async () => {
    const local = new FakeLocal(at(4, () => damagedBlob(4)));
    const own = home(at(4, () => undefined));
    const osaka = other(
      'Osaka',
      at(4, () => damagedBlob(4)),
    );
    const kyoto = other('Kyoto');
    const alerts: ChunkAlert[] = [];
    const failover = new ChunkFailover([local, own, osaka, kyoto], backup.manifest.index, {
      onAlert: (alert) => alerts.push(alert),
    });
    const read = await failover.read(4);
    expect(read.source).toBe(kyoto);
    expect(read.passedOver.map((p) => [p.copy, p.site, p.reason])).toEqual([
      ['local', undefined, 'damaged'],
      ['site', undefined, 'missing'],
      ['site', 'Osaka', 'damaged'],
    ]);
    expect(osaka.reports.map((r) => [r.chunkIndex, r.check])).toEqual([[4, 'index-hash']]);
    expect([...own.reports, ...kyoto.reports]).toEqual([]);
    expect(alerts.map((a) => a.site)).toEqual(['Osaka']);
  });

  it('stops the restore for now when a site that may hold the only good copy cannot be reached', async () => {
    const own = home(at(1, unreachable));
    const osaka = other(
      'Osaka',
      at(1, () => undefined),
    );
    const failover = new ChunkFailover([own, osaka], backup.manifest.index);
    await expect(failover.read(1)).rejects.toMatchObject({ code: 'timeout' });
    // Quickly while Osaka was left, then patiently as the last hope.
    expect(own.reads).toEqual([
      { position: 1, patience: 'quick' },
      { position: 1, patience: 'patient' },
    ]);
  });

  it('lets this console’s site’s refusal stand when no other source has the chunk; another site’s refusal counts as not holding it', async () => {
    const forbidden = refused(403, 'forbidden');
    const own = home(at(0, () => forbidden));
    await expect(
      new ChunkFailover(
        [
          own,
          other(
            'Osaka',
            at(0, () => undefined),
          ),
        ],
        backup.manifest.index,
      ).read(0),
    ).rejects.toBe(forbidden);
    const read = await new ChunkFailover(
      [
        home(at(0, () => undefined)),
        other(
          'Osaka',
          at(0, () => refused(404, 'volume_not_found')),
        ),
      ],
      backup.manifest.index,
    ).read(0);
    expect(read).toMatchObject({ blob: undefined, source: undefined });
  });
});

describe('restoring across sites (MS-5)', () => {
  it('completes when each chunk has a good copy somewhere, and counts where each came from', async () => {
    const local = new FakeLocal(at(0, () => goodBlob(0)));
    const own = home(
      new Map<number, () => Answer>([
        [1, () => undefined],
        [2, () => damagedBlob(2)],
        [3, unreachable],
      ]),
    );
    const osaka = other(
      'Osaka',
      at(1, () => refused(404, 'volume_not_found')),
    );
    const kyoto = other('Kyoto');
    const { sha256, progress } = await restore([local, own, osaka, kyoto]);
    expect(sha256).toBe(backup.secret.imageSha256);
    expect(progress.fromLocal).toBe(1);
    // Chunk 3 went to Osaka while this console's site was unreachable; chunks 4..6 too, while it rests.
    expect(progress.fromSites).toEqual({ Osaka: 5, Kyoto: 1 });
    expect(progress.fromSite).toBe(0);
    expect(own.reports.map((r) => r.chunkIndex)).toEqual([2]);
    expect(progress.alerts).toEqual([
      { position: 2, chunkId: idAt(2), site: undefined, check: 'index-hash', delivered: true },
    ]);
  });

  it('stops naming the chunk when no source has a good copy; the last source’s bad blob is a tampered chunk', async () => {
    const own = home(at(4, () => damagedBlob(4)));
    const osaka = other(
      'Osaka',
      at(4, () => damagedBlob(4)),
    );
    const error = await restore([new FakeLocal(), own, osaka]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TamperedChunkError);
    expect(error).toMatchObject({ chunkIndex: 4, chunkId: idAt(4), failure: 'index-hash' });
    expect((error as Error).message).toContain(`Chunk 4 (${idAt(4)}) was tampered with`);
    expect(own.reports).toHaveLength(1);
    expect(osaka.reports).toHaveLength(1);
  });

  it('says the chunk is missing when no source holds it at all', async () => {
    const error = await restore([
      new FakeLocal(),
      home(at(5, () => undefined)),
      other(
        'Osaka',
        at(5, () => undefined),
      ),
    ]).catch((e: unknown) => e);
    expect(error).toMatchObject({ chunkIndex: 5, chunkId: idAt(5), failure: 'missing' });
  });

  it('reads only the pinned site', async () => {
    const local = new FakeLocal(new Map([0, 1, 2].map((p) => [p, () => goodBlob(p)] as const)));
    const own = home();
    const osaka = other('Osaka');
    const kyoto = other('Kyoto');
    const { sha256, progress } = await restore(
      sourcesFor('site:osaka-id', local, own, [osaka, kyoto]),
    );
    expect(sha256).toBe(backup.secret.imageSha256);
    expect(progress.fromSites).toEqual({ Osaka: backup.manifest.index.chunks.length });
    expect(local.reads).toEqual([]);
    expect(own.reads).toEqual([]);
    expect(kyoto.reads).toEqual([]);
  });
});

describe('SiteCopySource for another site (MS-5)', () => {
  const RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1, maxDelayMs: 4 };
  const OSAKA = { siteId: 'osaka-id', name: 'Osaka', url: 'https://osaka.example', token: 't-1' };
  const entry = (): ChunkEntry => backup.manifest.index.chunks[0]!;

  function offline() {
    const fetch = vi.fn(async (_url: string, _init?: RequestInit): Promise<Response> => {
      throw new TypeError('offline');
    });
    vi.stubGlobal('fetch', fetch);
    return fetch;
  }

  it('tries another site briefly: twice when it is the last hope, once while others are left', async () => {
    const fetch = offline();
    const osaka = new SiteCopySource(RETRY, OSAKA);
    await expect(osaka.read('v', entry(), undefined, 'patient')).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(fetch).toHaveBeenCalledTimes(2);
    await expect(osaka.read('v', entry(), undefined, 'quick')).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(fetch.mock.calls[0]![0]).toMatch(/^https:\/\/osaka\.example\/api\/volumes\//);
    expect(new Headers(fetch.mock.calls[0]![1]?.headers).get('authorization')).toBe('Bearer t-1');
  });

  it('tries this console’s own site for as long as RS-8 says when nothing else is left', async () => {
    const fetch = offline();
    const own = new SiteCopySource(RETRY);
    await expect(own.read('v', entry(), undefined, 'patient')).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(fetch).toHaveBeenCalledTimes(5);
    await expect(own.read('v', entry(), undefined, 'quick')).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(fetch).toHaveBeenCalledTimes(7);
  });
});
