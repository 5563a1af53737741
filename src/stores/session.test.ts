import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '@/api/request';
import { demoSite } from '@/mocks/demo-site';
import { useSessionStore } from './session';

describe('session store', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('treats a 401 from the site as signed out', async () => {
    const session = useSessionStore();
    await session.load();
    expect(session.loaded).toBe(true);
    expect(session.signedIn).toBe(false);
    expect(session.homeRoute).toBe('/login');
  });

  it('loads the session the site reports', async () => {
    demoSite.startSession('operator');
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
    const session = useSessionStore();
    await session.signIn(userId, `custodian-${userId}`);
    expect(session.homeRoute).toBe(home);
  });

  it('prefers the operator home when a user holds several roles', async () => {
    demoSite.users.get('admin')!.roles = ['admin', 'restorer', 'operator'];
    const session = useSessionStore();
    await session.signIn('admin', 'custodian-admin');
    expect(session.homeRoute).toBe('/backup');
  });

  it('rejects a wrong password with the unauthorized_user code (ID-3)', async () => {
    const session = useSessionStore();
    const failure = await session.signIn('operator', 'wrong').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).code).toBe('unauthorized_user');
    expect(session.signedIn).toBe(false);
  });

  it('signs out at the site', async () => {
    const session = useSessionStore();
    await session.signIn('restorer', 'custodian-restorer');
    await session.signOut();
    expect(session.signedIn).toBe(false);
    expect(demoSite.session).toBeNull();
  });
});
