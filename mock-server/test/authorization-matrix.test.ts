import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes, type ApiRouteName, type RouteEntry } from '../../src/core/contract';
import { CHUNK_SIZE } from '../../src/core/crypto/constants';
import {
  backUp,
  enc,
  newOperator,
  randomImage,
  requestRelease,
  type Operator,
} from './support/backup-client';
import { openEventStream } from './support/event-stream';
import { Client, startTestSite, type HttpAnswer, type TestSite } from './support/test-site';

/**
 * SPEC §4: every endpoint × {anonymous, outsider, another operator,
 * registered restorer, owner, admin}. The expected status follows from the
 * route table (401 signed out, 403 without the role) and, where the route's
 * own rules decide, from the fixture below. A route the site serves without
 * a fixture fails the test, so a new route cannot slip past it.
 */
const personas = ['anonymous', 'outsider', 'operator2', 'restorer', 'owner', 'admin'] as const;
type Persona = (typeof personas)[number];
const userOf: Record<Exclude<Persona, 'anonymous'>, string> = {
  outsider: 'outsider',
  operator2: 'operator2',
  restorer: 'restorer',
  owner: 'operator',
  admin: 'admin',
};
const rolesOf: Record<Persona, readonly string[]> = {
  anonymous: [],
  outsider: ['restorer'],
  operator2: ['operator'],
  restorer: ['restorer'],
  owner: ['operator'],
  admin: ['admin'],
};

const VOLUME = 'iso9660:MATRIX:2026-11-21-13-30-00-00';
const SPARE = 'ext4:aaaaaaaa-0000-4000-8000-000000000001';

interface Fixture {
  readonly params?: Record<string, string>;
  readonly query?: string;
  readonly body?: unknown;
  readonly raw?: Buffer;
  /** Status for personas the route table lets in, where the route's own rules decide. */
  readonly expect?: Partial<Record<Persona, number>>;
}

interface World {
  pairId: string;
  chunkId: string;
  restorerRequestId: string;
}

function fixtures(world: World): Record<ApiRouteName, Fixture> {
  const v = { volumeId: VOLUME };
  const reason = 'authorization matrix';
  return {
    health: { expect: { anonymous: 200 } },
    site: { expect: { anonymous: 200 } },
    siteDirectory: {},
    // Public: an incomplete body is refused the same way for everyone.
    login: {
      body: { userId: 'nobody' },
      expect: Object.fromEntries(personas.map((p) => [p, 400])),
    },
    logout: {},
    session: {},
    // Credentials of the right shape (MS-2); the current one is wrong for everyone.
    changePassword: {
      body: { currentCredential: 'A'.repeat(43), newCredential: `${'B'.repeat(42)}A` },
      expect: all(400),
    },
    adminListUsers: {},
    adminCreateUser: {
      body: {
        userId: 'matrix-user',
        displayName: 'Matrix',
        roles: ['restorer'],
        initialCredential: `${'C'.repeat(42)}A`,
        reason,
      },
      expect: { admin: 201 },
    },
    adminDisableUser: { params: { userId: 'restorer2' }, body: { reason } },
    adminEnableUser: { params: { userId: 'restorer2' }, body: { reason } },
    adminResetPassword: { params: { userId: 'restorer2' }, body: { reason } },
    adminSetRoles: { params: { userId: 'restorer2' }, body: { roles: ['restorer'], reason } },
    adminEndSessions: { params: { userId: 'restorer2' }, body: { reason } },
    adminListRoleGrants: {},
    adminDecideRoleGrant: {
      params: { grantId: 'does-not-exist' },
      body: { approve: true, reason },
      expect: { admin: 404 },
    },
    adminMailSettings: {},
    adminSendTestMail: { body: {} },
    // MS-1: an address that is none is refused before any site is reached.
    adminListSites: {},
    adminPreviewSite: { body: { url: 'ftp://osaka.test' }, expect: { admin: 400 } },
    adminTrustSite: {
      body: { url: 'ftp://osaka.test', fingerprint: 'a'.repeat(64) },
      expect: { admin: 400 },
    },
    adminWithdrawSite: {
      params: { siteId: 'not-trusted' },
      body: { reason },
      expect: { admin: 404 },
    },
    adminCheckSite: { params: { siteId: 'not-trusted' }, expect: { admin: 404 } },
    listRestorers: {},
    events: {},
    // Only the owner and registered restorers report; others get the unknown-volume answer (RS-5).
    reportIntegrity: {
      body: {
        volumeId: VOLUME,
        generation: 1,
        source: 'site',
        check: 'index-hash',
        chunkIndex: 0,
        chunkId: world.chunkId,
      },
      expect: { outsider: 404, operator2: 404, admin: 404 },
    },
    adminListAlerts: {},
    adminExportAlerts: {},
    adminAcknowledgeAlerts: { body: { ids: [1] } },
    adminListAudit: {},
    adminExportAudit: {},
    adminVerifyAudit: {},
    registerDevice: {
      body: {
        publicKey: {
          kty: 'EC',
          crv: 'P-256',
          x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
          y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        },
      },
    },
    listDevices: {},
    volumeOwner: { params: v },
    claimVolume: { params: v, body: { resume: true }, expect: { operator2: 409 } },
    releaseClaim: { params: { volumeId: SPARE + ':none' }, expect: { owner: 404, operator2: 404 } },
    myVolumes: {},
    changeRestorers: { params: v, body: { add: ['restorer'], reason }, expect: { operator2: 403 } },
    setVolumeLabel: { params: v, body: { label: 'Payroll' }, expect: { operator2: 403 } },
    setVolumeExpiry: { params: v, body: { expiresAt: null }, expect: { operator2: 403 } },
    // A device key nobody registered: the owner is refused as an unknown device, others as non-owners.
    moveVolume: {
      params: v,
      body: {
        generation: 1,
        deviceFingerprint: 'a'.repeat(64),
        ephemeralPublicKey: {
          kty: 'EC',
          crv: 'P-256',
          x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
          y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        },
        signature: 'A'.repeat(86),
      },
      expect: { owner: 403, operator2: 403 },
    },
    // Another operator is refused as for any non-owner action on the volume (BK-3).
    volumeActivity: { params: v, expect: { operator2: 409 } },
    putTransfer: {
      params: { pairId: world.pairId, seq: '999' },
      raw: Buffer.alloc(CHUNK_SIZE + 16 * 1024),
      expect: { owner: 400, operator2: 409 },
    },
    headChunk: { params: { ...v, chunkId: world.chunkId }, expect: { operator2: 409 } },
    // A refused chunk read answers as an unknown volume does (RS-4), audited all the same.
    getChunk: {
      params: { ...v, chunkId: world.chunkId },
      expect: { outsider: 404, operator2: 404 },
    },
    scrubVolume: { params: v, body: {}, expect: { operator2: 403 } },
    restorable: {},
    generationManifest: {
      params: { ...v, generation: '1' },
      expect: { outsider: 403, operator2: 403 },
    },
    requestKeyRelease: {
      params: v,
      body: {
        requestId: 'matrix-request-000001',
        generation: 1,
        ephemeralPublicKey: {
          kty: 'EC',
          crv: 'P-256',
          x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
          y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
        },
      },
      // The first registered caller owns the request ID; a later one is a replay.
      expect: { outsider: 403, operator2: 403, restorer: 200, owner: 404 },
    },
    getKeyRelease: {
      params: { ...v, requestId: world.restorerRequestId },
      expect: { outsider: 404, operator2: 404, owner: 404, restorer: 200 },
    },
    adminListRecords: {},
    adminExportRecords: {},
    adminSummary: {},
    adminRegisterManually: {
      body: {
        volumeId: SPARE,
        owner: 'operator',
        restorers: ['restorer'],
        policy: { kind: 'one-time', approvalRequired: false, expiresAt: null },
        reason,
      },
    },
    adminGetRecord: { params: v },
    adminSetExpiry: { params: { volumeId: SPARE }, body: { expiresAt: null, reason } },
    adminRevoke: { params: { volumeId: SPARE }, body: { reason } },
    adminTransferOwnership: {
      params: { volumeId: SPARE },
      body: { newOwner: 'operator2', reason },
    },
    adminRequestRearm: { params: { volumeId: SPARE }, body: { reason }, expect: { admin: 409 } },
    adminImportRegistration: { body: { file: { type: 'nope' }, reason }, expect: { admin: 400 } },
    adminListApprovals: {},
    myPairs: {},
    pairHeartbeat: {
      params: { pairId: world.pairId },
      body: {
        state: 'PAIR',
        seqSent: 3,
        pending: 0,
        pendingBytes: 0,
        oldestPendingAt: null,
        epoch: 0,
        nextRotationAt: null,
      },
      expect: { operator2: 403 },
    },
    acknowledgeInstruction: {
      params: { pairId: world.pairId, instructionId: '00000000-0000-4000-8000-000000000000' },
      body: {},
      expect: { owner: 404, operator2: 403 },
    },
    adminListPairs: {},
    adminGetPair: { params: { pairId: world.pairId } },
    adminPairAction: { body: { pairIds: [world.pairId], action: 'flush', reason } },
    adminPairRotation: {
      params: { pairId: world.pairId },
      body: { everyMiB: 1024, everyMinutes: 60, reason },
    },
    adminDecideApproval: {
      params: { approvalId: 'rearm:does-not-exist' },
      body: { approve: true, reason },
      expect: { admin: 404 },
    },
  } as Record<ApiRouteName, Fixture>;
}

function all(status: number): Partial<Record<Persona, number>> {
  return Object.fromEntries(personas.filter((p) => p !== 'anonymous').map((p) => [p, status]));
}

function allowed(route: RouteEntry, persona: Persona): boolean {
  if (route.access === 'public') return true;
  if (persona === 'anonymous') return false;
  if (route.access === 'session') return true;
  return route.access.some((role) => rolesOf[persona].includes(role));
}

function pathOf(route: RouteEntry, params: Record<string, string> = {}): string {
  return route.path.replace(/:([A-Za-z]+)/g, (_, name: string) =>
    enc(params[name] ?? `missing-${name}`),
  );
}

describe('authorization matrix (ID-2, SPEC §4)', () => {
  let site: TestSite;
  let clients: Record<Persona, Client>;
  let world: World;
  let owner: Operator;

  beforeAll(async () => {
    site = await startTestSite();
    clients = {} as Record<Persona, Client>;
    for (const persona of personas) {
      const client = new Client(site.site.url);
      if (persona !== 'anonymous') await client.signIn(userOf[persona]);
      clients[persona] = client;
    }
    owner = await newOperator(clients.owner);
    const { claim } = await backUp(owner, site.site.info, VOLUME, randomImage(1000), {
      restorers: ['restorer'],
    });
    const manifest = (
      await clients.owner.request('GET', `/api/volumes/${enc(VOLUME)}/generations/1/manifest`)
    ).json as {
      manifest: { index: { chunks: { chunkId: string }[] } };
    };
    const released = await requestRelease(clients.restorer, VOLUME, 1);
    world = {
      pairId: claim.pairId,
      chunkId: manifest.manifest.index.chunks[0]!.chunkId,
      restorerRequestId: released.requestId,
    };
  });
  afterAll(() => site.stop());

  it('has a fixture for every route the site serves, and serves every route in the table', () => {
    const table = Object.values(apiRoutes as Record<string, RouteEntry>)
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    const served = site.site.apiRoutesServed.map((r) => `${r.method} ${r.url}`).sort();
    expect(served).toEqual(table);
    const names = Object.keys(fixtures(world)).sort();
    expect(names).toEqual(Object.keys(apiRoutes).sort());
  });

  const names = Object.keys(apiRoutes) as ApiRouteName[];
  const order: ApiRouteName[] = [...names.filter((n) => n !== 'logout'), 'logout'];
  for (const name of order) {
    it(`${name}: ${(apiRoutes as Record<string, RouteEntry>)[name]!.method} ${(apiRoutes as Record<string, RouteEntry>)[name]!.path}`, async () => {
      const route = (apiRoutes as Record<string, RouteEntry>)[name]!;
      const fixture = fixtures(world)[name];
      expect(fixture, `no fixture for route ${name}`).toBeDefined();
      const outcome: Record<string, number> = {};
      const expected: Record<string, number | string> = {};
      for (const persona of personas) {
        let answer: Pick<HttpAnswer, 'status'>;
        const path = pathOf(route, fixture.params) + (fixture.query ? `?${fixture.query}` : '');
        if (name === 'events') {
          const stream = await openEventStream(site.site.url, clients[persona].cookieHeader);
          stream.close();
          answer = { status: stream.status };
        } else {
          answer = await clients[persona].request(route.method, path, {
            ...(fixture.raw
              ? { raw: fixture.raw, headers: { 'content-type': 'application/octet-stream' } }
              : {}),
            ...(fixture.body !== undefined ? { json: fixture.body } : {}),
          });
        }
        outcome[persona] = answer.status;
        if (!allowed(route, persona)) expected[persona] = persona === 'anonymous' ? 401 : 403;
        else expected[persona] = fixture.expect?.[persona] ?? 'allowed';
      }
      for (const persona of personas) {
        const want = expected[persona];
        const got = outcome[persona]!;
        if (want === 'allowed') {
          expect([401, 403], `${name} as ${persona} answered ${got}`).not.toContain(got);
          expect(got, `${name} as ${persona}`).toBeLessThan(500);
        } else {
          expect(got, `${name} as ${persona}`).toBe(want);
        }
      }
    });
  }
});
