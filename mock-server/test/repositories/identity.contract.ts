import { describe, expect } from 'vitest';
import type { Role } from '../../../src/core/contract';
import type { RoleGrantRecord, SessionRecord } from '../../src/domain/ports';
import type { StoredSiteKey } from '../../src/domain/site-keys';
import { at, type Contract, type Mutable } from './contract';
import { sessionRow, userRow } from './fixtures';

/** UserRepository, SessionRepository, SignInFailureRepository and SiteKeyRepository. */
export function identityContract(c: Contract): void {
  describe('UserRepository', () => {
    c.test('finds what was inserted, and nothing else', async () => {
      const { users } = c.repos();
      const ada = userRow('ada', { roles: ['admin', 'operator'], mustChangePassword: true });
      await users.insert(ada);
      expect(await users.find('ada')).toEqual(ada);
      const old = userRow('old', { verifierOf: 'raw-password' });
      await users.insert(old);
      expect(await users.find('old')).toEqual(old);
      expect(await users.find('Ada')).toBeUndefined();
      expect(await users.find('nobody')).toBeUndefined();
    });

    c.test('refuses a second user with the same ID and keeps the first', async () => {
      const { users } = c.repos();
      await users.insert(userRow('ada'));
      await expect(users.insert(userRow('ada', { displayName: 'Other' }))).rejects.toThrow();
      expect((await users.find('ada'))?.displayName).toBe('User ada');
    });

    c.test('lists users in the binary order of their IDs (code points, not UTF-16)', async () => {
      const { users } = c.repos();
      // U+FF5A sorts below U+1F600 by code point, above it by UTF-16 unit.
      const ids = ['b', 'A', '_x', 'a', '9', 'é', '\u{1F600}', '\uFF5A', 'ab', 'B'];
      for (const id of ids) await users.insert(userRow(id));
      expect((await users.list()).map((u) => u.userId)).toEqual([
        '9',
        'A',
        'B',
        '_x',
        'a',
        'ab',
        'b',
        'é',
        '\uFF5A',
        '\u{1F600}',
      ]);
    });

    c.test('changes the password, roles and disabled flag of one user only', async () => {
      const { users } = c.repos();
      await users.insert(userRow('ada', { verifierOf: 'raw-password' }));
      await users.insert(userRow('bob'));
      await users.updatePassword('ada', {
        passwordHash: 'new-hash',
        verifierOf: 'site-credential',
        mustChangePassword: true,
      });
      await users.updateRoles('ada', ['admin', 'restorer']);
      await users.setDisabled('ada', true);
      expect(await users.find('ada')).toEqual(
        userRow('ada', {
          passwordHash: 'new-hash',
          mustChangePassword: true,
          roles: ['admin', 'restorer'],
          disabled: true,
        }),
      );
      expect(await users.find('bob')).toEqual(userRow('bob'));
      await users.setDisabled('ada', false);
      await users.updatePassword('ada', {
        passwordHash: 'newer-hash',
        verifierOf: 'site-credential',
        mustChangePassword: false,
      });
      expect(await users.find('ada')).toMatchObject({
        disabled: false,
        mustChangePassword: false,
        passwordHash: 'newer-hash',
      });
    });

    c.test('ignores changes to a user that does not exist', async () => {
      const { users } = c.repos();
      await users.updatePassword('ghost', {
        passwordHash: 'hash',
        verifierOf: 'site-credential',
        mustChangePassword: false,
      });
      await users.updateRoles('ghost', ['admin']);
      await users.setDisabled('ghost', true);
      expect(await users.find('ghost')).toBeUndefined();
      expect(await users.list()).toEqual([]);
    });

    c.test('counts the holders of a role who are not disabled', async () => {
      const { users } = c.repos();
      await users.insert(userRow('ada', { roles: ['admin'] }));
      await users.insert(userRow('alan', { roles: ['admin', 'operator'] }));
      await users.insert(userRow('old', { roles: ['admin'], disabled: true }));
      await users.insert(userRow('olive', { roles: ['operator'] }));
      expect(await users.countWithRole('admin')).toBe(2);
      expect(await users.countWithRole('operator')).toBe(2);
      expect(await users.countWithRole('restorer')).toBe(0);
      await users.setDisabled('alan', true);
      expect(await users.countWithRole('admin')).toBe(1);
    });

    c.test('keeps role grants of existing users and decides a pending one only once', async () => {
      const { users } = c.repos();
      await users.insert(userRow('ada'));
      const grant = (id: string, requestedAt: string): RoleGrantRecord => ({
        id,
        userId: 'ada',
        role: 'admin',
        requestedBy: 'root',
        reason: 'why',
        requestedAt,
        approvers: ['alan'],
        state: 'pending',
        decidedBy: null,
        decisionReason: null,
        decidedAt: null,
      });
      await users.insertRoleGrant(grant('g2', at(2)));
      await users.insertRoleGrant(grant('g1', at(1)));
      await expect(users.insertRoleGrant(grant('g1', at(3)))).rejects.toThrow();
      await expect(
        users.insertRoleGrant({ ...grant('g3', at(3)), userId: 'ghost' }),
      ).rejects.toThrow();
      expect((await users.pendingRoleGrants()).map((g) => g.id)).toEqual(['g1', 'g2']);
      const decision = {
        state: 'confirmed' as const,
        decidedBy: 'alan',
        decisionReason: 'ok',
        decidedAt: at(4),
      };
      expect(await users.decideRoleGrant('g1', decision)).toBe(true);
      expect(await users.decideRoleGrant('g1', { ...decision, state: 'refused' })).toBe(false);
      expect(await users.decideRoleGrant('ghost', decision)).toBe(false);
      expect(await users.findRoleGrant('g1')).toEqual({ ...grant('g1', at(1)), ...decision });
      expect((await users.pendingRoleGrants()).map((g) => g.id)).toEqual(['g2']);
      expect(await users.findRoleGrant('nope')).toBeUndefined();
    });

    c.test('keeps its own copies: changing objects given or returned changes nothing', async () => {
      const { users } = c.repos();
      const roles: Role[] = ['operator'];
      await users.insert(userRow('ada', { roles }));
      roles.push('admin');
      const found = (await users.find('ada'))!;
      (found.roles as Role[]).push('restorer');
      (found as { displayName: string }).displayName = 'Changed';
      ((await users.list())[0]!.roles as Role[]).push('admin');
      const changeable: Role[] = ['restorer'];
      await users.updateRoles('ada', changeable);
      changeable.push('admin');
      expect(await users.find('ada')).toEqual(userRow('ada', { roles: ['restorer'] }));
    });
  });

  describe('SessionRepository', () => {
    c.test('finds a session by token hash; a token hash is unique', async () => {
      const { users, sessions } = c.repos();
      await users.insert(userRow('ada'));
      const session = sessionRow('t1', 'ada');
      await sessions.insert(session);
      expect(await sessions.find('t1')).toEqual(session);
      expect(await sessions.find('t2')).toBeUndefined();
      await expect(
        sessions.insert(sessionRow('t1', 'ada', { clientAddress: 'x' })),
      ).rejects.toThrow();
      expect(await sessions.find('t1')).toEqual(session);
    });

    c.test('refuses a session of a user who does not exist', async () => {
      const { sessions } = c.repos();
      await expect(sessions.insert(sessionRow('t1', 'ghost'))).rejects.toThrow();
      expect(await sessions.find('t1')).toBeUndefined();
    });

    c.test('revokes once: a second revocation keeps the first time', async () => {
      const { users, sessions } = c.repos();
      await users.insert(userRow('ada'));
      await sessions.insert(sessionRow('t1', 'ada'));
      await sessions.revoke('t1', at(5));
      await sessions.revoke('t1', at(9));
      await sessions.revoke('unknown', at(9));
      expect((await sessions.find('t1'))?.revokedAt).toBe(at(5));
    });

    c.test('revokes all live sessions of a user but the one kept, and counts them', async () => {
      const { users, sessions } = c.repos();
      await users.insert(userRow('ada'));
      await users.insert(userRow('bob'));
      await sessions.insert(sessionRow('live1', 'ada', { expiresAt: at(60) }));
      await sessions.insert(sessionRow('live2', 'ada', { expiresAt: at(61) }));
      await sessions.insert(sessionRow('kept', 'ada', { expiresAt: at(60) }));
      await sessions.insert(sessionRow('expired', 'ada', { expiresAt: at(10) }));
      await sessions.insert(sessionRow('ends-now', 'ada', { expiresAt: at(30) }));
      await sessions.insert(sessionRow('revoked', 'ada', { revokedAt: at(1) }));
      await sessions.insert(sessionRow('other', 'bob'));
      expect(await sessions.revokeAllOf('ada', at(30), 'kept')).toBe(2);
      expect((await sessions.find('live1'))?.revokedAt).toBe(at(30));
      expect((await sessions.find('live2'))?.revokedAt).toBe(at(30));
      expect((await sessions.find('kept'))?.revokedAt).toBeNull();
      expect((await sessions.find('expired'))?.revokedAt).toBeNull();
      expect((await sessions.find('ends-now'))?.revokedAt).toBeNull();
      expect((await sessions.find('revoked'))?.revokedAt).toBe(at(1));
      expect((await sessions.find('other'))?.revokedAt).toBeNull();
      expect(await sessions.revokeAllOf('ada', at(31))).toBe(1);
      expect(await sessions.revokeAllOf('ada', at(32), '')).toBe(0);
    });

    c.test('counts the sessions of each user neither revoked nor expired', async () => {
      const { users, sessions } = c.repos();
      await users.insert(userRow('ada'));
      await users.insert(userRow('bob'));
      await users.insert(userRow('cy'));
      await sessions.insert(sessionRow('a1', 'ada', { expiresAt: at(60) }));
      await sessions.insert(sessionRow('a2', 'ada', { expiresAt: at(61) }));
      await sessions.insert(sessionRow('a3', 'ada', { expiresAt: at(60), revokedAt: at(2) }));
      await sessions.insert(sessionRow('b1', 'bob', { expiresAt: at(30) }));
      await sessions.insert(sessionRow('c1', 'cy', { expiresAt: at(20) }));
      const counts = await sessions.countActive(at(30));
      expect(Object.fromEntries(counts)).toEqual({ ada: 2 });
      expect(Object.fromEntries(await sessions.countActive(at(0)))).toEqual({
        ada: 2,
        bob: 1,
        cy: 1,
      });
    });

    c.test('keeps its own copy of a session', async () => {
      const { users, sessions } = c.repos();
      await users.insert(userRow('ada'));
      const given: Mutable<SessionRecord> = sessionRow('t1', 'ada');
      await sessions.insert(given);
      given.clientAddress = 'changed';
      const found = (await sessions.find('t1'))!;
      (found as Mutable<SessionRecord>).userId = 'changed';
      expect(await sessions.find('t1')).toEqual(sessionRow('t1', 'ada'));
    });
  });

  describe('SignInFailureRepository', () => {
    c.test('answers the failures of one user and address since a time, oldest first', async () => {
      const { failures } = c.repos();
      await failures.record('ada', '10.0.0.1', at(5));
      await failures.record('ada', '10.0.0.1', at(1));
      await failures.record('ada', '10.0.0.1', at(3));
      await failures.record('ada', '10.0.0.2', at(4));
      await failures.record('bob', '10.0.0.1', at(4));
      expect(await failures.recent('ada', '10.0.0.1', at(0))).toEqual([at(1), at(3), at(5)]);
      expect(await failures.recent('ada', '10.0.0.1', at(3))).toEqual([at(3), at(5)]);
      expect(await failures.recent('ada', '10.0.0.1', at(6))).toEqual([]);
      expect(await failures.recent('Ada', '10.0.0.1', at(0))).toEqual([]);
    });

    c.test('clears the failures of one user and address only', async () => {
      const { failures } = c.repos();
      await failures.record('ada', '10.0.0.1', at(1));
      await failures.record('ada', '10.0.0.1', at(1));
      await failures.record('ada', '10.0.0.2', at(2));
      await failures.record('bob', '10.0.0.1', at(3));
      await failures.clear('ada', '10.0.0.1');
      expect(await failures.recent('ada', '10.0.0.1', at(0))).toEqual([]);
      expect(await failures.recent('ada', '10.0.0.2', at(0))).toEqual([at(2)]);
      expect(await failures.recent('bob', '10.0.0.1', at(0))).toEqual([at(3)]);
    });

    c.test(
      'reserves parallel attempts one after another, never two with the same count',
      async () => {
        const { failures } = c.repos();
        const attempt = { userId: 'ada', clientAddress: '10.0.0.1', at: at(2), unknownUser: false };
        const limit = (recent: readonly string[]) => (recent.length >= 3 ? 'refuse' : 'count');
        const reserved = await Promise.all(
          Array.from({ length: 8 }, () => failures.reserve(attempt, at(0), at(0), limit)),
        );
        expect(reserved.map((r) => r.failures).sort()).toEqual([0, 0, 0, 0, 0, 1, 2, 3]);
        expect(reserved.filter((r) => r.verdict === 'refuse')).toHaveLength(5);
        expect(await failures.recent('ada', '10.0.0.1', at(0))).toEqual([at(2), at(2), at(2)]);
      },
    );

    c.test('forgets the old failures of the pair when counting afresh', async () => {
      const { failures } = c.repos();
      await failures.record('ada', '10.0.0.1', at(1));
      await failures.record('ada', '10.0.0.1', at(2));
      await failures.record('ada', '10.0.0.2', at(2));
      const afresh = await failures.reserve(
        { userId: 'ada', clientAddress: '10.0.0.1', at: at(9), unknownUser: false },
        at(0),
        at(0),
        () => 'count-afresh',
      );
      expect(afresh).toEqual({
        verdict: 'count-afresh',
        recent: [at(1), at(2)],
        failures: 1,
        unknownFromAddress: 0,
      });
      expect(await failures.recent('ada', '10.0.0.1', at(0))).toEqual([at(9)]);
      expect(await failures.recent('ada', '10.0.0.2', at(0))).toEqual([at(2)]);
    });

    c.test('counts the attempts for unknown user IDs of one address since a time', async () => {
      const { failures } = c.repos();
      const unknown = (userId: string, clientAddress: string, minute: number) =>
        failures.reserve(
          { userId, clientAddress, at: at(minute), unknownUser: true },
          at(0),
          at(2),
          () => 'count',
        );
      expect((await unknown('x1', '10.0.0.1', 1)).unknownFromAddress).toBe(0);
      expect((await unknown('x2', '10.0.0.1', 2)).unknownFromAddress).toBe(1);
      expect((await unknown('x3', '10.0.0.2', 3)).unknownFromAddress).toBe(1);
      await failures.reserve(
        { userId: 'ada', clientAddress: '10.0.0.1', at: at(3), unknownUser: false },
        at(0),
        at(2),
        () => 'count',
      );
      expect((await unknown('x4', '10.0.0.1', 4)).unknownFromAddress).toBe(2);
    });

    c.test('keeps repeated failures at the same instant', async () => {
      const { failures } = c.repos();
      for (let i = 0; i < 3; i++) await failures.record('ada', '10.0.0.1', at(1));
      expect(await failures.recent('ada', '10.0.0.1', at(1))).toEqual([at(1), at(1), at(1)]);
    });
  });

  describe('SiteKeyRepository', () => {
    const key = (purpose: StoredSiteKey['purpose']): StoredSiteKey => ({
      purpose,
      publicJwk: `{"purpose":"${purpose}"}`,
      wrappedPrivate: `wrapped-${purpose}`,
      createdAt: at(0),
    });

    c.test('lists the stored keys in the order they were stored', async () => {
      const { siteKeys } = c.repos();
      expect(await siteKeys.list()).toEqual([]);
      await siteKeys.insert(key('signing'));
      await siteKeys.insert(key('escrow'));
      expect(await siteKeys.list()).toEqual([key('signing'), key('escrow')]);
    });

    c.test('refuses a second key for the same purpose and keeps the first', async () => {
      const { siteKeys } = c.repos();
      await siteKeys.insert(key('escrow'));
      await expect(
        siteKeys.insert({ ...key('escrow'), wrappedPrivate: 'other' }),
      ).rejects.toThrow();
      expect(await siteKeys.list()).toEqual([key('escrow')]);
      const listed = (await siteKeys.list())[0] as { wrappedPrivate: string };
      listed.wrappedPrivate = 'changed';
      expect(await siteKeys.list()).toEqual([key('escrow')]);
    });
  });
}
