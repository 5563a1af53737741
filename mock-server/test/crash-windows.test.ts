import path from 'node:path';
import { randomUUID } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Claim, KeyRelease, SiteInfo, TransferAck } from '../../src/core/contract';
import { generateDeviceKeyPair, publicKeyFingerprint } from '../../src/core/crypto/device-key';
import { openEnvelope } from '../../src/core/crypto/envelope';
import { generateEnvelopeKeyPair } from '../../src/core/crypto/envelope-key';
import type { RegistrationFile } from '../../src/core/crypto/registration';
import type { HoldPoint } from '../src/domain/escrow/hold-points';
import {
  backUp,
  enc,
  newOperator,
  offlineRegistration,
  randomImage,
  requestRelease,
  restore,
  type BackupOptions,
} from './support/backup-client';
import { startSiteProcess, type SiteProcess } from './support/site-process';
import { Client } from './support/test-site';

type Sent = Parameters<Client['request']>;

/** A client that keeps every transfer it sent, to send them again after a crash. */
class RecordingClient extends Client {
  readonly transfers: Sent[] = [];
  override request(...args: Sent) {
    if (args[0] === 'PUT' && args[1].includes('/transfers/')) this.transfers.push(args);
    return super.request(...args);
  }
}

async function signedIn(site: SiteProcess, userId: string) {
  const client = new Client(site.url);
  await client.signIn(userId);
  return client;
}

/** What the site's database holds, read while the site is down. */
function readDatabase(site: SiteProcess) {
  const db = new SQLite(path.join(site.dataDir, 'custodian.sqlite'), { readonly: true });
  try {
    const audit = (event: string) =>
      (
        db.prepare('SELECT details FROM audit_log WHERE event = ? ORDER BY seq').all(event) as {
          details: string;
        }[]
      ).map((r) => JSON.parse(r.details) as Record<string, unknown>);
    return {
      escrowed: audit('epoch_key_escrowed'),
      committed: audit('generation_committed'),
      imported: audit('registration_imported'),
      released: audit('key_released'),
      envelopes: db
        .prepare('SELECT volume_id, epoch FROM escrow_envelopes ORDER BY epoch')
        .all() as {
        epoch: number;
      }[],
      generations: db.prepare('SELECT volume_id, generation FROM generations').all(),
      releases: db.prepare('SELECT request_id, state FROM releases').all(),
      alerts: db.prepare('SELECT kind, sentence FROM alerts').all() as {
        kind: string;
        sentence: string;
      }[],
      record: (volumeId: string) =>
        db.prepare('SELECT state FROM escrow_records WHERE volume_id = ?').get(volumeId) as
          { state: string } | undefined,
    };
  } finally {
    // better-sqlite3 reads eagerly above; the returned values no longer need the handle.
    setTimeout(() => db.close(), 0);
  }
}

/** Starts a site that stops at `point`, runs `act` until it gets there, and kills it (SIGKILL). */
async function killAt(point: HoldPoint, act: (site: SiteProcess) => Promise<unknown>) {
  const site = await startSiteProcess(undefined, 0, { CUSTODIAN_HOLD_AT: point });
  const acting = act(site).catch(() => undefined);
  await site.printed(`holding at ${point}`);
  await site.kill('SIGKILL');
  await acting;
  return site;
}

async function backUpOn(site: SiteProcess, volumeId: string, options: BackupOptions = {}) {
  const client = new RecordingClient(site.url);
  await client.signIn('operator');
  const operator = await newOperator(client);
  const info = (await client.request('GET', '/api/site')).json as SiteInfo;
  const image = randomImage(5000);
  return { client, image, done: backUp(operator, info, volumeId, image, options) };
}

async function replay(site: SiteProcess, sent: readonly Sent[]) {
  const client = await signedIn(site, 'operator');
  const answers = [];
  for (const [method, urlPath, options] of sent)
    answers.push(await client.request(method, urlPath, options));
  return answers;
}

/**
 * Each window of SPEC §4's crash safety, held open by CUSTODIAN_HOLD_AT and
 * closed by SIGKILL: nothing acknowledged is lost, the half-done decision is
 * completed or rolled back, and no audit entry outlives its change.
 */
describe('crash windows of the escrow decisions (SPEC §4 reliability, RS-3, AL-4)', () => {
  it('applies a commit stored but not applied at start-up, and answers its retry with the receipt', async () => {
    const volumeId = 'ext4:crash-commit';
    let backup: Awaited<ReturnType<typeof backUpOn>> | undefined;
    let site = await killAt('commit-stored', async (s) => {
      backup = await backUpOn(s, volumeId, { restorers: ['restorer'] });
      return backup.done;
    });
    const sent = backup!.client.transfers;
    site = await startSiteProcess(site.root);
    try {
      // Start-up applied it: the restorer gets generation 1 without any retry.
      const restorer = await signedIn(site, 'restorer');
      expect(Buffer.from((await restore(restorer, volumeId)).image)).toEqual(
        Buffer.from(backup!.image),
      );
      // The browser's retry of the commit gets the receipt, not "buffered".
      const retried = (await replay(site, sent.slice(-1)))[0]!;
      expect(retried.status).toBe(200);
      expect((retried.json as TransferAck).receipt?.statement.generation).toBe(1);
      // And the next claim continues after generation 1: no second generation of the same image.
      const operator = await signedIn(site, 'operator');
      const claim = (
        await operator.request('POST', `/api/volumes/${enc(volumeId)}/claim`, {
          json: { resume: true },
        })
      ).json as Claim;
      expect(claim.nextGeneration).toBe(2);
    } finally {
      await site.kill('SIGTERM');
    }
    const db = readDatabase(site);
    expect(db.generations).toHaveLength(1);
    expect(db.committed).toHaveLength(1);
  });

  it('never leaves a one-time key burned with nobody holding it: the retry with the same request ID gets it', async () => {
    const volumeId = 'ext4:crash-burn';
    const requestId = randomUUID();
    const ephemeral = await generateEnvelopeKeyPair();
    let site = await killAt('release-burned', async (s) => {
      await (
        await backUpOn(s, volumeId, { restorers: ['restorer'], policy: { kind: 'one-time' } })
      ).done;
      return requestRelease(await signedIn(s, 'restorer'), volumeId, 1, requestId, ephemeral);
    });
    let db = readDatabase(site);
    // Killed inside the decision: the burn is not stored without its release and audit entry.
    expect(db.record(volumeId)?.state).toBe('active');
    expect(db.releases).toEqual([]);
    expect(db.released).toEqual([]);

    site = await startSiteProcess(site.root);
    try {
      const restorer = await signedIn(site, 'restorer');
      const again = await requestRelease(restorer, volumeId, 1, requestId, ephemeral);
      expect(again.answer.status).toBe(200);
      const release = again.answer.json as KeyRelease & { envelope: string };
      await openEnvelope(release.envelope, ephemeral.privateKey, {
        purpose: 'release',
        volumeId,
        generation: 1,
      });
      // Used up once, not twice: anyone else now gets nothing.
      expect((await requestRelease(restorer, volumeId, 1)).answer.status).toBe(404);
    } finally {
      await site.kill('SIGTERM');
    }
    db = readDatabase(site);
    expect(db.record(volumeId)?.state).toBe('burned');
    expect(db.released.map((d) => d.requestId)).toEqual([requestId]);
    // The retry raised no "possible reuse or tampering" alert; only the second request did.
    expect(db.alerts.filter((a) => a.kind === 'key_not_found')).toHaveLength(1);
  });

  it('stores an escrowed epoch key with its audit entry, and writes that entry once when the transfer is sent again', async () => {
    const volumeId = 'ext4:crash-envelope';
    let backup: Awaited<ReturnType<typeof backUpOn>> | undefined;
    let site = await killAt('envelope-audited', async (s) => {
      backup = await backUpOn(s, volumeId, { restorers: ['restorer'] });
      return backup.done;
    });
    let db = readDatabase(site);
    expect(db.escrowed).toHaveLength(db.envelopes.length);

    site = await startSiteProcess(site.root);
    try {
      // The epoch-key transfer sent again: applied once (at start-up), a duplicate now.
      const [again] = await replay(site, backup!.client.transfers);
      expect(again!.status).toBe(200);
      expect((again!.json as TransferAck).status).toBe('duplicate');
      // The backup, started over, completes.
      const client = await signedIn(site, 'operator');
      const info = (await client.request('GET', '/api/site')).json as SiteInfo;
      await backUp(await newOperator(client), info, volumeId, backup!.image, {
        restorers: ['restorer'],
      });
      const restorer = await signedIn(site, 'restorer');
      expect(Buffer.from((await restore(restorer, volumeId)).image)).toEqual(
        Buffer.from(backup!.image),
      );
    } finally {
      await site.kill('SIGTERM');
    }
    db = readDatabase(site);
    expect(db.escrowed.map((e) => e.epoch)).toEqual(db.envelopes.map((e) => e.epoch));
    expect(db.envelopes.length).toBeGreaterThan(0);
  });

  it('registers a generation with its audit entry in one commit: killed in between, neither is stored, and start-up completes it', async () => {
    const volumeId = 'ext4:crash-generation';
    let backup: Awaited<ReturnType<typeof backUpOn>> | undefined;
    let site = await killAt('generation-audited', async (s) => {
      backup = await backUpOn(s, volumeId, { restorers: ['restorer'] });
      return backup.done;
    });
    let db = readDatabase(site);
    expect(db.committed).toHaveLength(db.generations.length);

    site = await startSiteProcess(site.root);
    try {
      const retried = (await replay(site, backup!.client.transfers.slice(-1)))[0]!;
      expect(retried.status).toBe(200);
      expect((retried.json as TransferAck).receipt?.statement.generation).toBe(1);
    } finally {
      await site.kill('SIGTERM');
    }
    db = readDatabase(site);
    expect(db.generations).toHaveLength(1);
    expect(db.committed).toHaveLength(1);
  });

  it('imports a registration file with its audit entry in one commit: killed in between, the file can be imported again, once', async () => {
    const volumeId = 'ext4:crash-import';
    const reason = 'the operator was offline when the image was made';
    let file: RegistrationFile | undefined;
    let site = await killAt('registration-audited', async (s) => {
      const info = (await new Client(s.url).request('GET', '/api/site')).json as SiteInfo;
      const device = await generateDeviceKeyPair();
      const signer = { device, fingerprint: await publicKeyFingerprint(device.publicKey) };
      file = await offlineRegistration(info, signer, volumeId);
      const admin = await signedIn(s, 'admin');
      return admin.request('POST', '/api/admin/registrations', { json: { file, reason } });
    });
    let db = readDatabase(site);
    expect(db.imported).toEqual([]);
    expect(db.generations).toEqual([]);

    site = await startSiteProcess(site.root);
    try {
      const admin = await signedIn(site, 'admin');
      const imported = await admin.request('POST', '/api/admin/registrations', {
        json: { file, reason },
      });
      expect(imported.status).toBe(200);
      const again = await admin.request('POST', '/api/admin/registrations', {
        json: { file, reason },
      });
      expect(again.json).toMatchObject({ code: 'already_imported' });
    } finally {
      await site.kill('SIGTERM');
    }
    db = readDatabase(site);
    expect(db.imported).toHaveLength(1);
    expect(db.generations).toHaveLength(1);
  });
});
