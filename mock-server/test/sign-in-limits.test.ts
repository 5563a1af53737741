import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client, ManualClock, startTestSite, type TestSite } from './support/test-site';

/** Failed sign-ins in parallel are held to the limits sequential ones meet (ID-3, AL-1). */
describe('sign-in limits under parallel attempts (ID-3)', () => {
  let site: TestSite;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock();
    site = await startTestSite({ clock });
  });
  afterEach(() => site.stop());

  async function alerts() {
    return site.site.database.db
      .selectFrom('alerts')
      .select(['kind', 'user_id', 'client_address'])
      .orderBy('id')
      .execute();
  }

  it('counts 40 simultaneous wrong passwords from one address as 40 sequential ones', async () => {
    const attacker = new Client(site.site.url, '127.0.0.2');
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => attacker.signIn('admin', 'a-wrong-guess')),
    );
    const statuses = answers.map((a) => a.status);
    // Five guesses reach the verifier; the address is locked out for the rest.
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(35);
    for (const locked of answers.filter((a) => a.status === 429)) {
      expect(locked.json).toMatchObject({ code: 'locked_out' });
    }
    // The right password is refused from that address too, and one brute-force alert was raised.
    expect((await attacker.signIn('admin')).json).toMatchObject({ code: 'locked_out' });
    const raised = await alerts();
    expect(raised.filter((a) => a.kind === 'brute_force')).toEqual([
      { kind: 'brute_force', user_id: 'admin', client_address: '127.0.0.2' },
    ]);
    expect(raised.filter((a) => a.kind === 'bad_password')).toHaveLength(4);
    expect(raised).toHaveLength(5);

    // Elsewhere the administrator still signs in; here, once the lock-out is over.
    expect((await new Client(site.site.url, '127.0.0.3').signIn('admin')).status).toBe(200);
    clock.advance(16 * 60_000);
    expect((await attacker.signIn('admin')).status).toBe(200);
  });

  it('summarises sign-ins for unknown user IDs from one address in one alert per window', async () => {
    const sprayer = new Client(site.site.url, '127.0.0.4');
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => sprayer.signIn(`nobody-${i}`, 'whatever-password')),
    );
    // Every answer is the same "unauthorized user": nothing tells which IDs exist.
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([401]));
    const raised = await alerts();
    expect(raised.filter((a) => a.kind === 'unknown_user')).toHaveLength(4);
    expect(raised.filter((a) => a.kind === 'brute_force')).toEqual([
      { kind: 'brute_force', user_id: null, client_address: '127.0.0.4' },
    ]);
    expect(raised).toHaveLength(5);
    const summary = await site.site.database.db
      .selectFrom('alerts')
      .select('sentence')
      .where('kind', '=', 'brute_force')
      .executeTakeFirstOrThrow();
    expect(summary.sentence).toMatch(/5 sign-in attempts for unknown user IDs from 127\.0\.0\.4/);

    // Every attempt is still in the audit log.
    const refused = await site.site.database.db
      .selectFrom('audit_log')
      .select('seq')
      .where('event', '=', 'sign_in_refused')
      .execute();
    expect(refused).toHaveLength(40);

    // Another address is alerted on its own, and the next window starts afresh.
    await new Client(site.site.url, '127.0.0.5').signIn('nobody-else', 'whatever-password');
    expect(await alerts()).toHaveLength(6);
    clock.advance(16 * 60_000);
    await sprayer.signIn('nobody-later', 'whatever-password');
    expect((await alerts()).at(-1)).toEqual({
      kind: 'unknown_user',
      user_id: 'nobody-later',
      client_address: '127.0.0.4',
    });
  });
});
