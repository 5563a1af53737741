import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MigrationProvider } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEntry, PasswordResetResponse } from '../../src/core/contract';
import { deriveSiteCredential } from '../../src/core/crypto/site-credential';
import { openDatabase } from '../src/persistence/database';
import { migrationProvider } from '../src/persistence/migrations';
import { createMasterKeyFile } from '../src/platform/master-key';
import { scryptHasher } from '../src/platform/scrypt-hasher';
import { credentialFor } from './support/credentials';
import { Client, startTestSite, type HttpAnswer, type TestSite } from './support/test-site';

/**
 * MS-2: no site ever receives the password. Each site is given the
 * credential derived from the password with its own ID, keeps only its
 * verifier of that, and refuses the credential meant for another site as it
 * refuses a wrong password.
 */

const started: TestSite[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((site) => site.stop()));
});

async function site(options: Parameters<typeof startTestSite>[0] = {}): Promise<TestSite> {
  const running = await startTestSite(options);
  started.push(running);
  return running;
}

function codeOf(answer: HttpAnswer): [number, string | undefined] {
  return [answer.status, (answer.json as { code?: string } | undefined)?.code];
}

/** What the site said, without what differs on every answer. */
function refusal(answer: HttpAnswer): unknown {
  const { requestId: _ignored, ...rest } = answer.json as Record<string, unknown>;
  return { status: answer.status, ...rest };
}

function runSite(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'mock-server/src/main.ts', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    input: '',
  });
}

/** The audit entries of one event at a site. */
function auditAt(at: TestSite, event: string): Promise<AuditEntry[]> {
  return at.site.audit.all({ event });
}

async function alertsAt(at: TestSite): Promise<{ kind: string; user_id: string | null }[]> {
  return at.site.database.db.selectFrom('alerts').select(['kind', 'user_id']).execute();
}

async function failuresAt(at: TestSite, userId: string): Promise<number> {
  const rows = await at.site.database.db
    .selectFrom('sign_in_failures')
    .select('id')
    .where('user_id', '=', userId)
    .execute();
  return rows.length;
}

describe('signing in with a credential for each site (MS-2)', { timeout: 120_000 }, () => {
  it('refuses at site B the credential captured at site A, for the same user and password', async () => {
    const [a, b] = await Promise.all([site({ siteId: 'site-a' }), site({ siteId: 'site-b' })]);
    expect([a.site.info.siteId, b.site.info.siteId]).toEqual(['site-a', 'site-b']);
    // The same user with the same password at both sites (the demo accounts).
    const password = 'custodian-operator';
    const forA = await deriveSiteCredential(password, 'site-a');
    const forB = await deriveSiteCredential(password, 'site-b');
    expect(forA).not.toBe(forB);
    expect(forA).not.toContain(password);

    // What A's operator could capture from a sign-in at A does not open B…
    const login = (at: TestSite, credential: string) =>
      new Client(at.site.url).request('POST', '/api/auth/login', {
        json: { userId: 'operator', credential },
      });
    const replayed = await login(b, forA);
    expect(codeOf(replayed)).toEqual([401, 'unauthorized_user']);
    expect(replayed.headers['set-cookie']).toBeUndefined();
    // …and is refused exactly as a wrong password is: same answer, counted, audited, alerted.
    const wrong = await login(b, await deriveSiteCredential('not-the-password', 'site-b'));
    expect(refusal(replayed)).toEqual(refusal(wrong));
    expect(await failuresAt(b, 'operator')).toBe(2);
    expect(
      (await auditAt(b, 'sign_in_refused')).map((e) => [e.actor, e.details['reason']]),
    ).toEqual([
      ['operator', 'bad_password'],
      ['operator', 'bad_password'],
    ]);
    expect(await alertsAt(b)).toEqual([
      { kind: 'bad_password', user_id: 'operator' },
      { kind: 'bad_password', user_id: 'operator' },
    ]);
    expect(await auditAt(b, 'sign_in')).toEqual([]);

    // At A it signs in, and at B its own credential does.
    expect((await login(a, forA)).status).toBe(200);
    expect((await login(b, forB)).status).toBe(200);
    expect(await failuresAt(a, 'operator')).toBe(0);
    // A console derives with the ID each site gives, so the same password works at both.
    expect((await new Client(a.site.url).signIn('operator')).status).toBe(200);
    expect((await new Client(b.site.url).signIn('operator')).status).toBe(200);
  });

  it('refuses a sign-in that carries the password, with or without a credential, before any check', async () => {
    const at = await site();
    const client = new Client(at.site.url);
    const credential = await client.credential('custodian-operator');
    for (const json of [
      { userId: 'operator', password: 'custodian-operator' },
      { userId: 'operator', credential, password: 'custodian-operator' },
      { userId: 'operator', credential: 'custodian-operator' },
    ]) {
      const answer = await client.request('POST', '/api/auth/login', { json });
      expect(codeOf(answer), JSON.stringify(json)).toEqual([400, 'invalid_request']);
      expect(answer.headers['set-cookie']).toBeUndefined();
    }
    expect(await failuresAt(at, 'operator')).toBe(0);
    expect(await auditAt(at, 'sign_in_refused')).toEqual([]);
    expect(codeOf(await client.signIn('operator'))).toEqual([200, undefined]);
  });

  it('stores only the verifier of the site credential of a temporary password it makes', async () => {
    const at = await site();
    const admin = new Client(at.site.url);
    await admin.signIn('admin');
    const reset = await admin.request('POST', '/api/admin/users/restorer/password-reset', {
      json: { reason: 'forgotten' },
    });
    const { temporaryPassword } = reset.json as PasswordResetResponse;
    const row = await at.site.database.db
      .selectFrom('users')
      .select(['password_hash', 'verifier_of'])
      .where('user_id', '=', 'restorer')
      .executeTakeFirstOrThrow();
    expect(row.verifier_of).toBe('site-credential');
    const credential = await deriveSiteCredential(temporaryPassword, at.site.info.siteId);
    expect(await scryptHasher.verify(credential, row.password_hash)).toBe(true);
    expect(await scryptHasher.verify(temporaryPassword, row.password_hash)).toBe(false);
    expect((await new Client(at.site.url).signIn('restorer', temporaryPassword)).status).toBe(200);
  });
});

describe(
  'accounts whose verifier was made from the password (before MS-2)',
  { timeout: 180_000 },
  () => {
    /** A data directory as the site left it before site credentials, with a master key beside it. */
    async function siteOfBefore(users: { userId: string; password: string; roles: string[] }[]) {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-legacy-'));
      const dataDir = path.join(root, 'data');
      const keyFile = path.join(root, 'secrets', 'master.key');
      createMasterKeyFile(keyFile);
      const all = await migrationProvider.getMigrations();
      const before: MigrationProvider = {
        getMigrations: async () =>
          Object.fromEntries(
            Object.keys(all)
              .filter((name) => name < '0011')
              .map((name) => [name, all[name]!]),
          ),
      };
      const database = await openDatabase(dataDir, { migrations: before, log: () => undefined });
      const insert = database.sqlite.prepare(
        `insert into users (user_id, display_name, roles, password_hash, must_change_password, disabled, created_at)
       values (?, ?, ?, ?, 0, 0, '2026-01-01T00:00:00.000Z')`,
      );
      for (const user of users) {
        insert.run(
          user.userId,
          user.userId,
          JSON.stringify(user.roles),
          await scryptHasher.hash(user.password),
        );
      }
      await database.close();
      return { dataDir, env: { CUSTODIAN_MASTER_KEY_FILE: keyFile } };
    }

    it('marks them at the upgrade and refuses them as a wrong password until the password is reset on the host', async () => {
      const before = await siteOfBefore([
        { userId: 'root', password: 'a-long-admin-password', roles: ['admin'] },
      ]);
      let at = await site({ ...before, demo: false });
      const marked = await at.site.database.db
        .selectFrom('users')
        .select(['user_id', 'verifier_of'])
        .execute();
      expect(marked).toEqual([{ user_id: 'root', verifier_of: 'raw-password' }]);

      const client = new Client(at.site.url);
      const legacy = await client.signIn('root', 'a-long-admin-password');
      expect(codeOf(legacy)).toEqual([401, 'unauthorized_user']);
      // The same answer as for a user who does not exist: nothing tells that the account is there.
      expect(refusal(legacy)).toEqual(
        refusal(await client.signIn('nobody', 'a-long-admin-password')),
      );
      expect(refusal(legacy)).toEqual(refusal(await client.signIn('root', 'not-the-password')));
      // Counted and alerted as a wrong password; the audit and the alert tell administrators why.
      expect(await failuresAt(at, 'root')).toBe(2);
      const refusals = await auditAt(at, 'sign_in_refused');
      expect(refusals.map((e) => [e.actor, e.details['reason']])).toEqual([
        ['root', 'legacy_verifier'],
        ['nobody', 'unknown_user'],
        ['root', 'legacy_verifier'],
      ]);
      const alerts = await at.site.database.db
        .selectFrom('alerts')
        .select(['kind', 'user_id', 'sentence'])
        .where('user_id', '=', 'root')
        .execute();
      expect(alerts.map((a) => a.kind)).toEqual(['bad_password', 'bad_password']);
      expect(alerts[0]!.sentence).toMatch(/made from the password itself.*Reset the password/);
      // Sending the password itself, which the old verifier could check, is refused.
      const raw = await client.request('POST', '/api/auth/login', {
        json: { userId: 'root', password: 'a-long-admin-password' },
      });
      expect(codeOf(raw)).toEqual([400, 'invalid_request']);
      await at.stop();
      started.pop();

      // On the host: a temporary password, shown once.
      const reset = runSite(
        ['reset-password', '--user', 'root', '--data-dir', before.dataDir],
        before.env,
      );
      expect(reset.stderr).toBe('');
      expect(reset.status).toBe(0);
      const temporary = /Temporary password of "root": (\S+)/.exec(reset.stdout)![1]!;
      expect(
        runSite(['reset-password', '--user', 'ghost', '--data-dir', before.dataDir], before.env),
      ).toMatchObject({ status: 1, stderr: expect.stringContaining('There is no user ghost') });

      at = await site({ ...before, demo: false });
      const root = new Client(at.site.url);
      const signedIn = await root.signIn('root', temporary);
      expect(codeOf(signedIn)).toEqual([200, undefined]);
      expect(signedIn.json).toMatchObject({ mustChangePassword: true });
      expect((await root.changePassword(temporary, 'my-own-admin-secret')).status).toBe(200);
      expect((await new Client(at.site.url).signIn('root', 'my-own-admin-secret')).status).toBe(
        200,
      );
      expect(await auditAt(at, 'user_password_reset')).toMatchObject([
        { actor: null, clientAddress: 'cli', details: { userId: 'root' } },
      ]);
    });

    it('moves demo accounts that still have their published password when it starts in demo mode', async () => {
      const before = await siteOfBefore([
        { userId: 'operator', password: 'custodian-operator', roles: ['operator'] },
        { userId: 'restorer', password: 'a-secret-of-her-own', roles: ['restorer'] },
      ]);
      const at = await site({
        ...before,
        env: { ...before.env, CUSTODIAN_DEMO_ON_EXISTING: '1' },
      });
      expect((await new Client(at.site.url).signIn('operator')).status).toBe(200);
      expect(codeOf(await new Client(at.site.url).signIn('restorer'))).toEqual([
        401,
        'unauthorized_user',
      ]);
      expect(
        codeOf(await new Client(at.site.url).signIn('restorer', 'a-secret-of-her-own')),
      ).toEqual([401, 'unauthorized_user']);
      expect((await auditAt(at, 'user_verifier_upgraded')).map((e) => e.details['userId'])).toEqual(
        ['operator'],
      );
    });
  },
);

describe('create-admin on the site host (ID-4, MS-2)', { timeout: 120_000 }, () => {
  it("stores the verifier of the password's credential for this site, never of the password", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-create-admin-'));
    const dataDir = path.join(root, 'data');
    const keyFile = path.join(root, 'secrets', 'master.key');
    createMasterKeyFile(keyFile);
    const created = runSite(['create-admin', '--user', 'root', '--data-dir', dataDir], {
      CUSTODIAN_MASTER_KEY_FILE: keyFile,
      CUSTODIAN_ADMIN_PASSWORD: 'a-long-admin-password',
    });
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);

    const database = await openDatabase(dataDir, { log: () => undefined });
    try {
      const { value: siteId } = database.sqlite
        .prepare(`select value from site_meta where key = 'site_id'`)
        .get() as { value: string };
      const row = database.sqlite
        .prepare(`select password_hash, verifier_of from users where user_id = 'root'`)
        .get() as { password_hash: string; verifier_of: string };
      expect(row.verifier_of).toBe('site-credential');
      const credential = await credentialFor('a-long-admin-password', siteId);
      expect(await scryptHasher.verify(credential, row.password_hash)).toBe(true);
      expect(await scryptHasher.verify('a-long-admin-password', row.password_hash)).toBe(false);
      const elsewhere = await credentialFor('a-long-admin-password', 'another-site');
      expect(await scryptHasher.verify(elsewhere, row.password_hash)).toBe(false);
    } finally {
      await database.close();
    }
  });
});
