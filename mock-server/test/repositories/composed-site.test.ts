import { beforeEach, describe, expect, it } from 'vitest';
import type { Role } from '../../../src/core/contract';
import { CHUNK_SIZE } from '../../../src/core/crypto/constants';
import { bytesEqual, randomBytes } from '../../../src/core/crypto/bytes';
import { verifyReceipt } from '../../../src/core/crypto/receipt';
import type { Caller } from '../../src/domain/escrow/context';
import { DomainError } from '../../src/domain/errors';
import type { Clock } from '../../src/domain/ports';
import { SiteKeyError } from '../../src/domain/site-keys';
import { openInMemoryDatabase } from '../../src/persistence/in-memory-database';
import { kyselyRepositories, type SiteRepositories } from '../../src/persistence/repositories';
import { MemoryBlobStore } from '../../src/platform/memory-blob-store';
import { webCryptoRandom } from '../../src/platform/webcrypto-random';
import { createWebCryptoHasher } from '../../src/platform/webcrypto-hasher';
import { composeSite, SITE_DEFAULTS, type SiteServices } from '../../src/site';
import { sha256Hex } from '../../../src/core/crypto/bytes';
import { credentialFor, TEST_SITE_ID } from '../support/credentials';
import { backUp, image, registerDevice, restore } from './service-client';

/** A clock that stands still unless moved. */
class StillClock implements Clock {
  constructor(private current: number) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

const PASSWORD = 'correct horse battery';

/** The site on WebCrypto alone (as in the page), over SQLite in memory unless given repositories. */
async function compose(
  options: {
    clock?: Clock;
    repositories?: SiteRepositories;
    masterKey?: Uint8Array<ArrayBuffer>;
  } = {},
): Promise<SiteServices> {
  return composeSite(
    options.repositories ?? kyselyRepositories((await openInMemoryDatabase()).db),
    {
      blobs: new MemoryBlobStore(),
      // Few rounds: these tests are about the rules, not password cost.
      hasher: createWebCryptoHasher({ iterations: 1000 }),
      random: webCryptoRandom,
      sha256Hex,
      clock: options.clock ?? { now: () => new Date() },
      notifiers: [],
      remoteSites: { siteInfo: async () => ({ kind: 'unreachable', reason: 'no network here' }) },
    },
    {
      siteId: TEST_SITE_ID,
      siteName: 'test site',
      publicUrl: () => 'http://127.0.0.1:8787',
      version: '0.0.0',
      demo: true,
      masterKey: options.masterKey ?? randomBytes(32),
      ...SITE_DEFAULTS,
    },
  );
}

/** The whole domain on its own repositories: identity, audit, alerts, site keys and escrow (SPEC §5). */
describe('the site composed on SQLite in memory with WebCrypto alone', () => {
  let site: SiteServices;
  let clock: StillClock;

  /** Creates the user and signs in with the password's credential, as the console does (MS-2). */
  async function signedIn(userId: string, roles: Role[]): Promise<Caller> {
    const credential = await credentialFor(PASSWORD, site.info.siteId);
    await site.identity.createUser({ userId, displayName: userId, roles, credential });
    const { token } = await site.identity.signIn(userId, credential, '192.0.2.7');
    const { user, session } = await site.identity.authenticate(token);
    return { userId: user.userId, roles: user.roles, clientAddress: session.clientAddress };
  }

  beforeEach(async () => {
    clock = new StillClock(Date.now());
    site = await compose({ clock });
  });

  it('says it is a demo and publishes the keys it opened', () => {
    expect(site.info).toMatchObject({
      demo: true,
      escrowKey: { fingerprint: site.keys.escrow.fingerprint },
      signingKey: { fingerprint: site.keys.signing.fingerprint },
    });
  });

  it('backs up and restores byte for byte, with a receipt the site signed', async () => {
    const olive = await signedIn('olive', ['operator']);
    const rita = await signedIn('rita', ['restorer']);
    const device = await registerDevice(site, olive);
    const original = image(CHUNK_SIZE + 1000, 7);
    const receipt = await backUp(site, olive, device, 'vol-iso', original, { restorers: ['rita'] });
    await expect(
      verifyReceipt(receipt, site.keys.signing.publicKey, {
        volumeId: 'vol-iso',
        generation: 1,
        owner: 'olive',
        counter: '1',
        siteId: site.info.siteId,
        deviceKeyFingerprint: device.fingerprint,
      }),
    ).resolves.toBeDefined();
    expect(await site.escrow.store.chunks.of('vol-iso')).toHaveLength(2);

    // bytesEqual, not toEqual: a deep comparison of 4 MiB element by element takes minutes.
    expect(bytesEqual(await restore(site, rita, 'vol-iso'), original)).toBe(true);
    expect(bytesEqual(await restore(site, olive, 'vol-iso'), original)).toBe(true);
    const { records } = await site.records.list({
      sort: 'updatedAt',
      order: 'desc',
      page: 1,
      pageSize: 10,
      restorer: 'rita',
    });
    expect(records).toMatchObject([
      { volumeId: 'vol-iso', owner: 'olive', restorers: ['olive', 'rita'], releases: 2 },
    ]);
    expect(await site.audit.verify()).toMatchObject({ intact: true });
  });

  it('refuses an outsider with unauthorized_use, an alert and an audit entry', async () => {
    const olive = await signedIn('olive', ['operator']);
    const oscar = await signedIn('oscar', ['restorer']);
    await backUp(site, olive, await registerDevice(site, olive), 'vol-iso', image(5000, 3));
    const refused = await restore(site, oscar, 'vol-iso').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: 'unauthorized_use', status: 403 });
    const { alerts } = await site.alerts.list({ page: 1, pageSize: 10 });
    expect(alerts[0]).toMatchObject({
      kind: 'unauthorized_restorer',
      userId: 'oscar',
      volumeId: 'vol-iso',
    });
    expect((await site.audit.all({ event: 'restore_refused' }))[0]).toMatchObject({
      actor: 'oscar',
    });
    expect(await site.escrow.store.releases.count('vol-iso')).toBe(0);
  });

  it('burns a one-time record at its first release; the next request finds no key', async () => {
    const olive = await signedIn('olive', ['operator']);
    const rita = await signedIn('rita', ['restorer']);
    const original = image(70_000, 11);
    await backUp(site, olive, await registerDevice(site, olive), 'vol-once', original, {
      restorers: ['rita'],
      policy: { kind: 'one-time' },
    });
    expect(bytesEqual(await restore(site, rita, 'vol-once'), original)).toBe(true);
    expect((await site.escrow.store.records.find('vol-once'))?.state).toBe('burned');
    await expect(restore(site, olive, 'vol-once')).rejects.toMatchObject({ code: 'key_not_found' });
    const { alerts } = await site.alerts.list({ kind: 'key_not_found', page: 1, pageSize: 10 });
    expect(alerts).toHaveLength(1);
  });

  it('signs in with the WebCrypto hasher and locks out after repeated wrong passwords', async () => {
    await signedIn('ada', ['admin']);
    const stored = (await site.users.find('ada'))!.passwordHash;
    expect(stored).toMatch(/^pbkdf2-sha256\$1000\$[\w-]{22}\$[\w-]{43}$/);
    const wrong = await credentialFor('wrong password', site.info.siteId);
    const right = await credentialFor(PASSWORD, site.info.siteId);
    for (let i = 0; i < 5; i++) {
      await expect(site.identity.signIn('ada', wrong, '192.0.2.9')).rejects.toMatchObject({
        code: 'unauthorized_user',
      });
    }
    await expect(site.identity.signIn('ada', right, '192.0.2.9')).rejects.toMatchObject({
      code: 'locked_out',
    });
    expect((await site.alerts.list({ kind: 'brute_force', page: 1, pageSize: 5 })).total).toBe(1);
    clock.advance(16 * 60_000);
    await expect(site.identity.signIn('ada', right, '192.0.2.9')).resolves.toBeDefined();
  });

  it('reopens its keys over the same repositories with the same master key only', async () => {
    const repositories = kyselyRepositories((await openInMemoryDatabase()).db);
    const masterKey = randomBytes(32);
    const given = masterKey.slice();
    const first = await compose({ repositories, masterKey: given });
    const again = await compose({ repositories, masterKey: masterKey.slice() });
    expect(again.keys.escrow.fingerprint).toBe(first.keys.escrow.fingerprint);
    expect(again.keys.signing.fingerprint).toBe(first.keys.signing.fingerprint);
    // Once the keys are open, the site wipes the master key it was handed.
    expect(given.every((byte) => byte === 0)).toBe(true);
    await expect(compose({ repositories, masterKey: randomBytes(32) })).rejects.toThrow(
      SiteKeyError,
    );
  });
});
