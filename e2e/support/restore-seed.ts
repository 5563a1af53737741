/**
 * Volumes to restore, backed up through the site's real API by the Node
 * reference client (mock-server/test/support/backup-client.ts), as the
 * browser's backup does: claim, chunks, escrow, commit. The restore stories
 * then start from a site that holds committed generations and escrowed keys.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Alert, Approval, GenerationManifest, SiteInfo } from '../../src/core/contract';
import type { ReleasePolicy } from '../../src/core/crypto/release-policy';
import { backUp, newOperator } from '../../mock-server/test/support/backup-client';
import { Client } from '../../mock-server/test/support/test-site';

export interface SeededVolume {
  readonly volumeId: string;
  /** Chunk IDs of generation 1, in image order. */
  readonly chunkIds: readonly string[];
}

/** A signed-in API client of the e2e site. */
export async function apiClient(baseUrl: string, userId: string): Promise<Client> {
  const client = new Client(baseUrl);
  const answer = await client.signIn(userId);
  if (answer.status !== 200) throw new Error(`${userId} could not sign in: ${answer.text}`);
  return client;
}

/** `operator` backs up the image at `path` as `volumeId`, naming `restorers`. */
export async function seedVolume(
  baseUrl: string,
  path: string,
  volumeId: string,
  terms: { restorers?: readonly string[]; policy?: Partial<ReleasePolicy> } = {},
): Promise<SeededVolume> {
  const client = await apiClient(baseUrl, 'operator');
  const operator = await newOperator(client, 'operator');
  const site = (await client.request('GET', '/api/site')).json as SiteInfo;
  const image = new Uint8Array(readFileSync(path));
  await backUp(operator, site, volumeId, image, {
    restorers: terms.restorers ?? ['restorer'],
    ...(terms.policy ? { policy: terms.policy } : {}),
  });
  const answer = await client.request(
    'GET',
    `/api/volumes/${encodeURIComponent(volumeId)}/generations/1/manifest`,
  );
  const manifest = answer.json as GenerationManifest;
  return { volumeId, chunkIds: manifest.manifest.index.chunks.map((c) => c.chunkId) };
}

/** The site's file of a chunk blob (FsBlobStore layout: blobs/xx/sha256(volumeId)/chunkId). */
export function blobFile(dataDir: string, volumeId: string, chunkId: string): string {
  const key = createHash('sha256').update(volumeId, 'utf8').digest('hex');
  return join(dataDir, 'blobs', key.slice(0, 2), key, chunkId);
}

/** Flips one byte of a stored blob, as damage or tampering on the site's disk would. */
export function corruptBlob(dataDir: string, volumeId: string, chunkId: string): void {
  const file = blobFile(dataDir, volumeId, chunkId);
  const bytes = readFileSync(file);
  bytes[100] = (bytes[100] ?? 0) ^ 0xff;
  writeFileSync(file, bytes);
}

/** The site's alerts, as an administrator lists them. */
export async function adminAlerts(baseUrl: string): Promise<Alert[]> {
  const admin = await apiClient(baseUrl, 'admin');
  const answer = await admin.request('GET', '/api/admin/alerts?pageSize=500');
  return (answer.json as { alerts: Alert[] }).alerts;
}

/** An administrator decides the pending key release of `volumeId` (BK-5). */
export async function decideRelease(
  baseUrl: string,
  volumeId: string,
  approve: boolean,
  reason: string,
): Promise<void> {
  const admin = await apiClient(baseUrl, 'admin');
  const list = (await admin.request('GET', '/api/admin/approvals')).json as {
    approvals: Approval[];
  };
  const pending = list.approvals.find((a) => a.kind === 'key_release' && a.volumeId === volumeId);
  if (!pending) throw new Error(`no pending key release of ${volumeId}`);
  const answer = await admin.request('POST', `/api/admin/approvals/${pending.id}/decide`, {
    json: { approve, reason },
  });
  if (answer.status !== 200) throw new Error(`the decision was refused: ${answer.text}`);
}
