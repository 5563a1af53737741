import { afterAll, afterEach, beforeAll, beforeEach, it } from 'vitest';
import type { BlobStore, EscrowStore, RecordRow } from '../../src/domain/escrow/ports';
import type {
  AlertRepository,
  AuditRepository,
  SessionRepository,
  SignInFailureRepository,
  UserRepository,
} from '../../src/domain/ports';
import type { SiteKeyRepository } from '../../src/domain/site-keys';
import type { TrustedSiteRepository } from '../../src/domain/sites/ports';

/** Every repository port, as one implementation provides them over one store. */
export interface Repositories {
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly failures: SignInFailureRepository;
  readonly alerts: AlertRepository;
  readonly audit: AuditRepository;
  readonly siteKeys: SiteKeyRepository;
  readonly escrow: EscrowStore;
  readonly trustedSites: TrustedSiteRepository;
  readonly blobs: BlobStore;
}

export interface OpenRepositories {
  readonly repos: Repositories;
  /**
   * Stores many records at once, as `records.upsert` would one by one; only
   * for cases that need more than the count cap of records.
   */
  seedRecords(records: readonly RecordRow[]): Promise<void>;
  close(): Promise<void>;
}

/** One implementation of the ports: a fresh, empty store per `open()`. */
export interface Implementation {
  readonly name: string;
  open(): Promise<OpenRepositories>;
  /** Removes whatever the implementation keeps between stores. */
  dispose(): Promise<void>;
  /**
   * Cases this implementation fails, by title, each with the discrepancy
   * between what the port promises and what the implementation does. They
   * run as `it.fails`, so fixing the implementation turns them red.
   */
  readonly knownDiscrepancies: ReadonlyMap<string, string>;
}

/** What a contract's cases use: the store of the running case and the case declaration. */
export interface Contract {
  readonly implementation: string;
  /** The repositories of the running case, fresh and empty at its start. */
  repos(): Repositories;
  /** A store opened once for the enclosing describe block (for costly fixtures). */
  shared(): () => OpenRepositories;
  /** Declares a case; a known discrepancy of the implementation runs as `it.fails`. */
  test(title: string, body: () => Promise<void>, timeoutMs?: number): void;
}

/**
 * Registers a fresh store around each case of the current describe block
 * and hands the contracts their `test`. `titles` collects every title, so
 * the caller can check that each known discrepancy names a real case.
 */
export function contractFor(implementation: Implementation, titles: Set<string>): Contract {
  let current: OpenRepositories | undefined;
  beforeEach(async () => {
    current = await implementation.open();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return {
    implementation: implementation.name,
    repos: () => {
      if (!current) throw new Error('no store is open outside a case');
      return current.repos;
    },
    shared: () => {
      let opened: OpenRepositories | undefined;
      beforeAll(async () => {
        opened = await implementation.open();
      });
      afterAll(async () => {
        await opened?.close();
      });
      return () => {
        if (!opened) throw new Error('the shared store is not open yet');
        return opened;
      };
    },
    test: (title, body, timeoutMs) => {
      if (titles.has(title)) throw new Error(`two contract cases are titled "${title}"`);
      titles.add(title);
      const declare = implementation.knownDiscrepancies.has(title) ? it.fails : it;
      declare(title, body, timeoutMs);
    },
  };
}

/** A point in time `minutes` after the start of 2026, as the stores keep times. */
export function at(minutes: number): string {
  return new Date(Date.UTC(2026, 0, 1) + minutes * 60_000).toISOString();
}

/** A row type with its fields writable, to show that changing a copy changes no stored row. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
