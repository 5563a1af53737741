import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '@/shared/api/request';
import { testSite } from '@/testing/site';
import { useSessionStore } from './session';

describe('session store', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('treats a 401 from the site as signed out', async () => {
    await testSite();
    const session = useSessionStore();
    await session.load();
    expect(session.loaded).toBe(true);
    expect(session.signedIn).toBe(false);
    expect(session.homeRoute).toBe('/login');
  });

  it('loads the session the site reports', async () => {
    await (await testSite()).signIn('operator');
    const session = useSessionStore();
    await session.load();
    expect(session.userId).toBe('operator');
    expect(session.hasRole('operator')).toBe(true);
    expect(session.hasRole('admin')).toBe(false);
  });

  it.each([
    ['operator', '/backup'],
    ['restorer', '/restore'],
    ['admin', '/admin'],
  ])('sends %s home to %s', async (userId, home) => {
    await testSite();
    const session = useSessionStore();
    await session.signIn(userId, `custodian-${userId}`);
    expect(session.homeRoute).toBe(home);
  });

  it('prefers the operator home when a user holds several roles', async () => {
    const site = await testSite();
    await site.site.identity.setRoles(await site.adminAction('admin2'), 'admin', [
      'admin',
      'restorer',
      'operator',
    ]);
    const session = useSessionStore();
    await session.signIn('admin', 'custodian-admin');
    expect(session.homeRoute).toBe('/backup');
  });

  it('rejects a wrong password with the unauthorized_user code (ID-3)', async () => {
    await testSite();
    const session = useSessionStore();
    const failure = await session.signIn('operator', 'wrong').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).code).toBe('unauthorized_user');
    expect(session.signedIn).toBe(false);
  });

  it('signs out at the site', async () => {
    const site = await testSite();
    const session = useSessionStore();
    await session.signIn('restorer', 'custodian-restorer');
    const sessionsOf = async (userId: string) =>
      (await site.site.identity.listUsers()).find((user) => user.userId === userId)?.activeSessions;
    expect(await sessionsOf('restorer')).toBe(1);
    await session.signOut();
    expect(session.signedIn).toBe(false);
    expect(await sessionsOf('restorer')).toBe(0);
  });
});
