import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { parseArgs } from 'node:util';
import { fromBase64Url } from '../../../src/core/crypto/bytes';
import { createKeysFile } from '../../../src/core/crypto/keys-file';
import { deriveSiteCredential } from '../../../src/core/crypto/site-credential';
import { ConfigError, loadConfig } from '../config';
import { DomainError } from '../domain/errors';
import { DataDirectoryError, openDatabase } from '../persistence/database';
import { openSiteDatabase, requireSqlite } from '../persistence/site-database';
import { FsBlobStore } from '../platform/fs-blob-store';
import { systemClock } from '../platform/node-random';
import { composeServices } from '../services';
import { readPassword } from './password';

/** Where a command finds the site: its data directory and master key. */
export const SITE_OPTIONS = {
  'data-dir': { type: 'string' },
  'master-key-file': { type: 'string' },
} as const;

export function siteArgs(values: { 'data-dir'?: string; 'master-key-file'?: string }): string[] {
  return [
    ...(values['data-dir'] ? ['--data-dir', values['data-dir']] : []),
    ...(values['master-key-file'] ? ['--master-key-file', values['master-key-file']] : []),
  ];
}

function adminPassword(): Promise<string> {
  return readPassword('Administrator password: ');
}

/**
 * ES-4 `site backup --out DIR`: a consistent copy of the data directory. The
 * database is copied with SQLite's online backup; blobs are immutable once
 * written and are linked into place before any row refers to them, so every
 * chunk the copied database lists is in the copied blobs.
 */
export async function backupSite(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: 'string' }, ...SITE_OPTIONS },
    strict: true,
  });
  if (!values.out)
    throw new ConfigError('Say where to put the copy: --out DIR (a new or empty directory).');
  const out = path.resolve(values.out);
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0)
    throw new ConfigError(`${out} is not empty; choose a new directory.`);
  const config = loadConfig(siteArgs(values));
  requireSqlite(config, '"site backup"');
  if (!fs.existsSync(path.join(config.dataDir, 'custodian.sqlite'))) {
    throw new ConfigError(`There is no site database in ${config.dataDir}.`);
  }
  const database = await openDatabase(config.dataDir);
  try {
    // The full check, page by page: a copy of a damaged database is no backup.
    const problems = integrityProblems(database.sqlite);
    if (problems.length > 0) {
      throw new DataDirectoryError(
        `The database in ${config.dataDir} is damaged, so no backup was made:\n  ${problems.slice(0, 5).join('\n  ')}\n` +
          'Keep the files as they are, and restore the data directory from an earlier "site backup" copy (see the README).',
      );
    }
    fs.mkdirSync(out, { recursive: true, mode: 0o700 });
    // Created first so the copy is 0600 whatever the umask: it holds what the site holds.
    fs.closeSync(fs.openSync(path.join(out, 'custodian.sqlite'), 'wx', 0o600));
    await database.sqlite.backup(path.join(out, 'custodian.sqlite'));
  } finally {
    await database.close();
  }
  const copy = new SQLite(path.join(out, 'custodian.sqlite'), { readonly: true });
  try {
    const problems = integrityProblems(copy);
    if (problems.length > 0)
      throw new DataDirectoryError(
        `The copy in ${out} failed its integrity check (${problems[0]}); do not rely on it. Check the disk it is on.`,
      );
  } finally {
    copy.close();
  }
  const blobs = path.join(config.dataDir, 'blobs');
  let copied = 0;
  if (fs.existsSync(blobs)) {
    fs.cpSync(blobs, path.join(out, 'blobs'), {
      recursive: true,
      filter: (source) => !source.includes(`${path.sep}.tmp`),
    });
    copied = fs
      .readdirSync(path.join(out, 'blobs'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile()).length;
  }
  // In S3 mode the blobs live in the bucket, which this copy does not cover.
  const bucket = config.s3
    ? `Chunk blobs are kept in bucket "${config.s3.bucket}"${config.s3.endpoint ? ` at ${config.s3.endpoint}` : ''}, not in the data directory: this copy holds the database only. ` +
      'Back the bucket up with the store’s own means (versioning, replication or a copy to another bucket), after this copy, so that every chunk the copied database lists is in it.\n'
    : '';
  process.stdout.write(
    `Backed up ${config.dataDir} to ${out}: the database and ${copied} chunk blob(s).\n` +
      bucket +
      'The master key is not part of the copy: keep it apart, and back it up on its own.\n',
  );
}

function integrityProblems(sqlite: SQLite.Database): string[] {
  try {
    const rows = sqlite.pragma('integrity_check', { simple: false }) as {
      integrity_check: string;
    }[];
    const messages = rows.map((r) => r.integrity_check);
    return messages.length === 1 && messages[0] === 'ok' ? [] : messages;
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}

/**
 * ES-4 `site export-key --volume V --out FILE`: an administrator exports a
 * volume's keys for the independent decoder. It signs in like anyone else
 * (lockout and audit apply), and the export is audited before it happens.
 */
export async function exportKey(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      volume: { type: 'string' },
      out: { type: 'string' },
      user: { type: 'string', default: 'admin' },
      manifest: { type: 'string' },
      generation: { type: 'string' },
      ...SITE_OPTIONS,
    },
    strict: true,
  });
  if (!values.volume || !values.out) {
    throw new ConfigError(
      'Usage: npm run site -- export-key --volume VOLUME_ID --out KEYS_FILE [--manifest FILE] [--generation N] [--user ADMIN]',
    );
  }
  const config = loadConfig(siteArgs(values));
  const database = await openSiteDatabase(config);
  try {
    const services = await composeServices(config, database, systemClock, [], () => undefined);
    // Signed in with this site's credential of the password (MS-2), as a console would.
    const credential = await deriveSiteCredential(await adminPassword(), services.info.siteId);
    const { token } = await services.identity.signIn(values.user!, credential, 'cli');
    const principal = await services.identity.authenticate(token);
    try {
      if (!principal.user.roles.includes('admin')) {
        throw new DomainError(
          'forbidden',
          `${principal.user.userId} is not an administrator; only administrators export keys.`,
          403,
        );
      }
      const { store } = services.escrow;
      const envelopes = await store.envelopes.of(values.volume);
      if (envelopes.length === 0)
        throw new DomainError(
          'volume_not_found',
          `The site holds no keys for volume ${values.volume}.`,
          404,
        );
      const volume = await store.volumes.find(values.volume);
      const devices = volume ? await store.devices.of(volume.owner) : [];
      await services.audit.append({
        event: 'key_exported',
        actor: principal.user.userId,
        volumeId: values.volume,
        clientAddress: 'cli',
        details: { out: path.resolve(values.out), epochs: envelopes.map((e) => e.epoch) },
      });
      const bytes = await createKeysFile(
        [...new Set(envelopes.map((e) => e.envelope))],
        services.keys.escrow.privateKey,
        devices.map((d) => fromBase64Url(d.spki)),
      );
      try {
        fs.writeFileSync(values.out, bytes, { mode: 0o600, flag: 'wx' });
      } finally {
        bytes.fill(0);
      }
      const lines = [
        `Wrote the keys of ${values.volume} to ${values.out} (mode 0600). It holds raw keys: handle it like the medium.`,
      ];
      if (values.manifest) {
        const generation = values.generation
          ? await store.generations.find(values.volume, Number(values.generation))
          : await store.generations.latest(values.volume);
        if (!generation)
          throw new DomainError('generation_not_found', 'That generation does not exist.', 404);
        fs.writeFileSync(values.manifest, generation.manifest, { flag: 'wx' });
        lines.push(
          `Wrote the manifest of generation ${generation.generation} to ${values.manifest}.`,
        );
      }
      const blobs = await FsBlobStore.open(config.dataDir);
      lines.push(
        `Its chunk blobs are in ${path.dirname(blobs.pathOf(values.volume, '0'.repeat(64)))}`,
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      await services.identity.signOut(principal);
    }
  } finally {
    await database.close();
  }
}
