import type { SiteLocks } from './ports';

/**
 * Runs tasks one at a time per key, in this process only: the `SiteLocks`
 * of a site that is one process (SQLite, whose data directory is locked to
 * one process, and the offline demo's page).
 */
export class KeyedMutex implements SiteLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
