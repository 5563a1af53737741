import { Pool } from 'pg';
import { KeyedMutex } from '../domain/keyed-mutex';
import type { SiteLocks } from '../domain/ports';

/**
 * `SiteLocks` across the processes on one PostgreSQL database (SX-2): a
 * session advisory lock, keyed by a hash of the lock's name, held on a
 * connection of a small pool of its own while `work` runs on the site's
 * other connections (so held locks never take the connections their work
 * needs). Within the process a name is taken in turn first, so one process
 * holds at most one connection per name. A connection that drops lets the
 * server release its locks; the work then holds no lock any more and the
 * next call takes it afresh.
 */
export class AdvisoryLocks implements SiteLocks {
  private readonly local = new KeyedMutex();
  private readonly pool: Pool;

  constructor(url: string, onDropped: (error: Error) => void) {
    this.pool = new Pool({ connectionString: url, max: 4, application_name: 'custodian-locks' });
    this.pool.on('error', onDropped);
  }

  run<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.local.run(name, async () => {
      const client = await this.pool.connect();
      const key = `custodian:${name}`;
      // A connection whose lock or unlock failed is not reused: it may still hold the lock.
      let broken: Error | undefined;
      try {
        try {
          await client.query('select pg_advisory_lock(hashtextextended($1, 0))', [key]);
        } catch (error) {
          broken = asError(error);
          throw error;
        }
        try {
          return await work();
        } finally {
          try {
            await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]);
          } catch (error) {
            broken = asError(error);
          }
        }
      } finally {
        client.release(broken);
      }
    });
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
