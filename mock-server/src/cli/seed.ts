import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from '../persistence/database';
import { requireSqlite } from '../persistence/site-database';

const POLICIES = ['one-time', 'once-per-restorer', 'reusable'] as const;
const STATES = ['active', 'active', 'active', 'burned', 'revoked'] as const;

/**
 * `npm run seed -- --records N`: fills the restorer DB with N synthetic
 * escrow records (no keys, no generations) so that search and paging can be
 * tried and measured at scale (ES-1). Volume IDs are marked `seed:` so they
 * cannot be mistaken for real media.
 */
export async function seedRecords(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { records: { type: 'string', default: '100000' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  const count = Number(values.records);
  if (!Number.isInteger(count) || count < 1 || count > 10_000_000) {
    throw new ConfigError('--records must be a whole number between 1 and 10 000 000.');
  }
  const config = loadConfig(values['data-dir'] ? ['--data-dir', values['data-dir']] : []);
  requireSqlite(config, '"seed"');
  const database = await openDatabase(config.dataDir);
  try {
    const users = database.sqlite
      .prepare('select user_id, roles from users where disabled = 0')
      .all() as { user_id: string; roles: string }[];
    const operators = users
      .filter((u) => (JSON.parse(u.roles) as string[]).includes('operator'))
      .map((u) => u.user_id);
    const restorers = users
      .filter((u) => (JSON.parse(u.roles) as string[]).includes('restorer'))
      .map((u) => u.user_id);
    if (operators.length === 0) {
      throw new ConfigError(
        `There are no operators in ${config.dataDir}: start the site once in demo mode (npm start) or create users first.`,
      );
    }
    const existing = (
      database.sqlite
        .prepare(`select count(*) as n from escrow_records where volume_id like 'seed:%'`)
        .get() as { n: number }
    ).n;
    const insertRecord = database.sqlite.prepare(
      `insert or ignore into escrow_records (volume_id, owner, restorers, policy_kind, approval_required, expires_at, state, created_at, updated_at)
       values (?, ?, ?, ?, ?, null, ?, ?, ?)`,
    );
    const insertVolume = database.sqlite.prepare(
      `insert or ignore into volumes (volume_id, owner, state, pair_id, claim_expires_at, created_at) values (?, ?, 'registered', ?, null, ?)`,
    );
    const insertRestorer = database.sqlite.prepare(
      `insert or ignore into record_restorers (volume_id, user_id) values (?, ?)`,
    );
    const started = Date.now();
    const base = Date.parse('2026-01-01T00:00:00Z');
    const seed = database.sqlite.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const volumeId = `seed:${i.toString(16).padStart(8, '0')}-${['ISO', 'EXT4', 'FAT', 'GPT'][i % 4]}`;
        const owner = operators[i % operators.length]!;
        const named = [
          owner,
          ...(restorers.length
            ? [restorers[i % restorers.length]!, restorers[(i * 7 + 3) % restorers.length]!]
            : []),
        ];
        const list = [...new Set(named)].sort();
        const at = new Date(base + i * 60_000).toISOString();
        insertRecord.run(
          volumeId,
          owner,
          JSON.stringify(list),
          POLICIES[i % 3],
          i % 10 === 0 ? 1 : 0,
          STATES[i % 5],
          at,
          at,
        );
        insertVolume.run(volumeId, owner, globalThis.crypto.randomUUID(), at);
        for (const userId of list) insertRestorer.run(volumeId, userId);
      }
    });
    for (let from = existing; from < existing + count; from += 10_000)
      seed(from, Math.min(existing + count, from + 10_000));
    process.stdout.write(
      `Added ${count} synthetic escrow records to ${config.dataDir} in ${((Date.now() - started) / 1000).toFixed(1)} s (${existing + count} seed records in all).\n`,
    );
  } finally {
    await database.close();
  }
}
