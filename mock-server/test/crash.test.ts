import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import { sealChunk } from '../../src/core/crypto/chunk';
import { generateChunkIdKey, generateDataKey } from '../../src/core/crypto/keys';
import { encodeTransfer } from '../../src/core/transfer/frame';
import {
  backUp,
  enc,
  newOperator,
  randomImage,
  requestRelease,
  restore,
} from './support/backup-client';
import { startSiteProcess } from './support/site-process';
import { Client, ManualClock, startTestSite } from './support/test-site';

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('crashes and leftovers (SPEC §4 reliability, BK-8)', () => {
  it('leaves no partial blob when the site is killed during a chunk upload, and keeps what was committed', async () => {
    let site = await startSiteProcess();
    const client = new Client(site.url);
    await client.signIn('operator');
    const operator = await newOperator(client);
    const { info } = {
      info: (await client.request('GET', '/api/site')).json as Parameters<typeof backUp>[1],
    };
    const image = randomImage(CHUNK_SIZE + 10);
    await backUp(operator, info, 'ext4:crash-1', image, { restorers: ['restorer'] });

    const claim = (
      await client.request('POST', `/api/volumes/${enc('ext4:crash-2')}/claim`, { json: {} })
    ).json as { pairId: string };
    const chunk = await sealChunk(randomImage(CHUNK_SIZE, 9), {
      volumeId: 'ext4:crash-2',
      epoch: 0,
      chunkIdKey: await generateChunkIdKey(),
      dataKey: await generateDataKey(),
    });
    const body = Buffer.from(
      encodeTransfer(
        { kind: 'chunk', volumeId: 'ext4:crash-2', chunkId: chunk.chunkId },
        chunk.blob,
      ),
    );
    // Send half of the body, then kill the site with SIGKILL.
    await new Promise<void>((resolve) => {
      const req = http.request(new URL(`/api/pairs/${claim.pairId}/transfers/1`, site.url), {
        method: 'PUT',
        headers: {
          cookie: client.cookieHeader,
          'x-custodian-csrf': '1',
          'content-type': 'application/octet-stream',
          'content-length': body.length,
          'x-custodian-body-sha256': createHash('sha256').update(body).digest('hex'),
        },
      });
      req.on('error', () => resolve());
      req.write(body.subarray(0, body.length / 2), () => {
        void site.kill('SIGKILL').then(resolve);
      });
    });
    site = await startSiteProcess(site.root);
    const again = new Client(site.url);
    await again.signIn('operator');
    expect(
      (await again.request('HEAD', `/api/volumes/${enc('ext4:crash-2')}/chunks/${chunk.chunkId}`))
        .status,
    ).toBe(404);
    const blobs = listFiles(path.join(site.dataDir, 'blobs'));
    expect(blobs.filter((f) => f.includes(`${path.sep}.tmp${path.sep}`))).toEqual([]);
    expect(blobs.some((f) => f.endsWith(chunk.chunkId))).toBe(false);
    const restorer = new Client(site.url);
    await restorer.signIn('restorer');
    expect(
      Buffer.compare(
        Buffer.from((await restore(restorer, 'ext4:crash-1')).image),
        Buffer.from(image),
      ),
    ).toBe(0);
    await site.kill('SIGTERM');
  });

  it('stores a key release and its audit entry in one commit: when the release row cannot be written, neither is', async () => {
    const site = await startTestSite();
    try {
      const client = new Client(site.site.url);
      await client.signIn('operator');
      await backUp(await newOperator(client), site.site.info, 'ext4:one-commit', randomImage(100), {
        restorers: ['restorer'],
      });
      const restorer = new Client(site.site.url);
      await restorer.signIn('restorer');
      // The second write of the release fails, as a crash between the two would cut it short.
      site.site.database.sqlite.exec(
        "CREATE TRIGGER fail_release BEFORE INSERT ON releases BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
      );
      const refused = await requestRelease(restorer, 'ext4:one-commit', 1);
      expect(refused.answer.status).toBe(503);
      expect(refused.answer.json).toMatchObject({ code: 'audit_unavailable' });
      expect(await site.site.audit.all({ event: 'key_released' })).toEqual([]);
      expect(await site.site.escrow.store.releases.find(refused.requestId)).toBeUndefined();

      site.site.database.sqlite.exec('DROP TRIGGER fail_release');
      const released = await requestRelease(restorer, 'ext4:one-commit', 1);
      expect(released.answer.status).toBe(200);
      expect(
        (await site.site.audit.all({ event: 'key_released' })).map((e) => e.details.requestId),
      ).toEqual([released.requestId]);
      expect(await site.site.audit.verify()).toMatchObject({ intact: true });
    } finally {
      await site.stop();
    }
  });

  it('collects the chunks of a claim that never commits once its time-to-live has passed', async () => {
    const clock = new ManualClock();
    const site = await startTestSite({ clock, env: { CUSTODIAN_CLAIM_TTL: '600' } });
    try {
      const client = new Client(site.site.url);
      await client.signIn('operator');
      const operator = await newOperator(client);
      await expect(
        backUp(operator, site.site.info, 'ext4:abandoned', randomImage(2 * CHUNK_SIZE), {
          omitChunk: 1,
        }),
      ).rejects.toThrow();
      expect(
        listFiles(path.join(site.dataDir, 'blobs')).filter((f) => !f.includes('.tmp')),
      ).toHaveLength(1);
      clock.advance(11 * 60_000);
      const other = new Client(site.site.url);
      await other.signIn('operator2');
      // The claim is gone: the volume ID is free again, and its chunk is collected.
      expect(
        (await other.request('GET', `/api/volumes/${enc('ext4:abandoned')}/owner`)).json,
      ).toMatchObject({ state: 'unregistered' });
      expect(
        listFiles(path.join(site.dataDir, 'blobs')).filter((f) => !f.includes('.tmp')),
      ).toHaveLength(0);
    } finally {
      await site.stop();
    }
  });
});
