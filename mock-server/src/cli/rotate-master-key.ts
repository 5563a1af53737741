import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config';
import { AuditLog } from '../domain/audit';
import { loadSiteKeys, rewrapSiteKeys } from '../domain/site-keys';
import { openDatabase } from '../persistence/database';
import { requireSqlite } from '../persistence/site-database';
import { SqliteAuditRepository, SqliteSiteKeyRepository } from '../persistence/sqlite-audit';
import { createMasterKeyFile, readMasterKey } from '../platform/master-key';
import { systemClock } from '../platform/node-random';
import { SEALED_AUDIT_KEY, sealedAuditKey } from '../services';

/**
 * `site rotate-master-key --new-key-file F`: seals the site's private keys and
 * the audit chain key under a new master key, in one transaction, with the
 * site stopped (it takes the data directory's lock). The new key file is
 * written (durably) before the database changes, so a crash at any point
 * leaves a database that one of the two keys opens.
 */
export async function rotateMasterKey(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'new-key-file': { type: 'string' },
      'data-dir': { type: 'string' },
      'master-key-file': { type: 'string' },
    },
    strict: true,
  });
  if (!values['new-key-file'])
    throw new ConfigError(
      'Say where the new master key is, or is to be written: --new-key-file FILE (kept apart from the data directory).',
    );
  const config = loadConfig([
    ...(values['data-dir'] ? ['--data-dir', values['data-dir']] : []),
    ...(values['master-key-file'] ? ['--master-key-file', values['master-key-file']] : []),
  ]);
  const newFile = path.resolve(values['new-key-file']);
  if (config.masterKeyFile && path.resolve(config.masterKeyFile) === newFile)
    throw new ConfigError('The new master key file must not be the current one.');
  requireSqlite(config, '"rotate-master-key"');
  if (!fs.existsSync(path.join(config.dataDir, 'custodian.sqlite')))
    throw new ConfigError(`There is no site database in ${config.dataDir}.`);
  const oldKey = readMasterKey(config.masterKeyFile, config.dataDir);
  const created = !fs.existsSync(newFile);
  if (created) createMasterKeyFile(newFile);
  const newKey = readMasterKey(newFile, config.dataDir);
  const database = await openDatabase(config.dataDir, { lock: true });
  try {
    if (Buffer.from(oldKey).equals(Buffer.from(newKey)))
      throw new ConfigError(`${newFile} holds the same key as the current master key.`);
    const repo = new SqliteSiteKeyRepository(database.db);
    const stored = await repo.list();
    if (stored.length === 0)
      throw new ConfigError(`The site in ${config.dataDir} has no keys yet; start it once first.`);
    const before = await loadSiteKeys(
      repo,
      oldKey,
      () => new Date().toISOString(),
      await sealedAuditKey(database),
    );
    const auditBefore = await new AuditLog({
      repo: new SqliteAuditRepository(database.db),
      key: before.auditKey,
      clock: systemClock,
    }).verify();
    if (!auditBefore.intact)
      throw new ConfigError(
        'The audit chain does not verify under the current master key; fix that first (Verify chain in the console names the broken entry). Nothing was changed.',
      );
    const rewrapped = await rewrapSiteKeys(stored, await sealedAuditKey(database), oldKey, newKey);
    database.sqlite.transaction(() => {
      const update = database.sqlite.prepare(
        'update site_keys set wrapped_private = ? where purpose = ?',
      );
      for (const key of rewrapped.keys) update.run(key.wrappedPrivate, key.purpose);
      database.sqlite
        .prepare(
          'insert into site_meta (key, value) values (?, ?) on conflict (key) do update set value = excluded.value',
        )
        .run(SEALED_AUDIT_KEY, rewrapped.sealedAuditKey);
    })();
    // Proof before the operator throws the old key away: the same keys open, the chain verifies.
    const after = await loadSiteKeys(
      repo,
      newKey,
      () => new Date().toISOString(),
      rewrapped.sealedAuditKey,
    );
    const auditAfter = await new AuditLog({
      repo: new SqliteAuditRepository(database.db),
      key: after.auditKey,
      clock: systemClock,
    }).verify();
    if (
      after.escrow.fingerprint !== before.escrow.fingerprint ||
      after.signing.fingerprint !== before.signing.fingerprint ||
      !auditAfter.intact
    ) {
      throw new Error(
        `The re-wrapped keys did not check out; keep both key files and report this. The database now opens with ${newFile}.`,
      );
    }
    await new AuditLog({
      repo: new SqliteAuditRepository(database.db),
      key: after.auditKey,
      clock: systemClock,
    }).append({
      event: 'master_key_rotated',
      actor: null,
      clientAddress: 'cli',
      details: { entriesVerified: auditAfter.entries },
    });
    process.stdout.write(
      `${created ? `Wrote a new master key to ${newFile} (mode 0600).\n` : ''}` +
        `The site's keys in ${config.dataDir} are now sealed under the master key in ${newFile}; ` +
        `their fingerprints are unchanged and the audit chain (${auditAfter.entries} entries) verifies.\n` +
        `Set CUSTODIAN_MASTER_KEY_FILE=${newFile} and start the site. The old key no longer opens this database, ` +
        'but it still opens older backups: keep it as long as you keep those.\n',
    );
  } finally {
    oldKey.fill(0);
    newKey.fill(0);
    await database.close();
  }
}
