import type {
  AuditEntry,
  AuditEventName,
  AuditHead,
  AuditQuery,
  AuditVerification,
} from '../../../src/core/contract';
import { canonicalJson, type JsonValue } from '../../../src/core/crypto/canonical-json';
import { toHex } from '../../../src/core/crypto/bytes';
import { DomainError, isStorageFull, storageFull } from './errors';
import type { AuditRepository, Clock } from './ports';

export const GENESIS_MAC = '0'.repeat(64);

export interface AuditInput {
  readonly event: AuditEventName;
  readonly actor: string | null;
  readonly volumeId?: string | null;
  readonly clientAddress?: string | null;
  readonly details?: Record<string, JsonValue>;
}

/** An append waiting for the next commit, with the write that must land with it. */
interface PendingAppend {
  readonly input: AuditInput;
  readonly write: ((tx: AuditRepository) => Promise<unknown>) | undefined;
  readonly settle: (outcome: { entry: AuditEntry; result: unknown } | { error: unknown }) => void;
}

/** At most this many entries share one commit. */
const MAX_BATCH = 256;

/**
 * The append-only audit log (AL-4). Each entry's MAC is HMAC-SHA-256, under a
 * key derived from the master key, over the RFC 8785 canonical JSON of the
 * entry including the previous entry's MAC: someone who can write the
 * database but lacks the master key cannot rewrite, drop or reorder entries
 * without "Verify chain" naming the first broken one.
 */
export class AuditLog {
  private queue: PendingAppend[] = [];
  private draining = false;
  /**
   * Held from reading the chain's head to storing the entries after it, so
   * that two appends never chain after the same head. Always taken inside
   * the transaction (never the other way round), so it cannot deadlock with
   * the database's own lock.
   */
  private chainTail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      readonly repo: AuditRepository;
      readonly key: CryptoKey;
      readonly clock: Clock;
    },
  ) {}

  /**
   * Appends an entry; if it cannot be written, the caller's action is refused.
   * Given an open transaction (`store.atomically`), the entry joins it: it
   * commits with the change it describes, or neither does.
   */
  async append(input: AuditInput, tx?: { readonly audit: AuditRepository }): Promise<AuditEntry> {
    if (tx) {
      return this.chained(async () => {
        const [entry] = await this.sign([input], await tx.audit.head());
        await tx.audit.append(entry!);
        return entry!;
      });
    }
    return (await this.appendWith(input, undefined)).entry;
  }

  /**
   * Appends an entry and, in the same commit, does `write` (storage only): the
   * two survive a crash together or not at all, and the promise settles only
   * once they are durable. Appends arriving while a commit is under way share
   * the next one (group commit), so N concurrent actions cost one fsync, not N.
   */
  appendWith<T>(
    input: AuditInput,
    write: ((tx: AuditRepository) => Promise<T>) | undefined,
  ): Promise<{ entry: AuditEntry; result: T }> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        input,
        write,
        settle: (outcome) =>
          'error' in outcome
            ? reject(outcome.error)
            : resolve(outcome as { entry: AuditEntry; result: T }),
      });
      if (!this.draining) void this.drain();
    });
  }

  async head(): Promise<AuditHead> {
    const last = await this.deps.repo.head();
    return last ? { seq: last.seq, mac: last.mac } : { seq: 0, mac: GENESIS_MAC };
  }

  list(query: AuditQuery): Promise<{ entries: AuditEntry[]; total: number }> {
    return this.deps.repo.list(query);
  }

  all(query: Omit<AuditQuery, 'page' | 'pageSize'>): Promise<AuditEntry[]> {
    return this.deps.repo.all(query);
  }

  /** Walks the whole chain and names the first entry that does not hold. */
  async verify(): Promise<AuditVerification> {
    let expectedSeq = 1;
    let prevMac = GENESIS_MAC;
    for await (const batch of this.deps.repo.scan(1000)) {
      for (const entry of batch) {
        const broken = (reason: string): AuditVerification => ({
          intact: false,
          entries: expectedSeq - 1,
          brokenAt: entry.seq,
          reason,
        });
        if (entry.seq !== expectedSeq) {
          return broken(`entry ${expectedSeq} is missing (the next entry found is ${entry.seq})`);
        }
        if (entry.prevMac !== prevMac)
          return broken(`entry ${entry.seq} does not follow entry ${entry.seq - 1}`);
        if ((await this.mac(entry)) !== entry.mac) return broken(`entry ${entry.seq} was altered`);
        prevMac = entry.mac;
        expectedSeq++;
      }
    }
    return { intact: true, entries: expectedSeq - 1, head: { seq: expectedSeq - 1, mac: prevMac } };
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length) await this.commit(this.queue.splice(0, MAX_BATCH));
    } finally {
      this.draining = false;
    }
  }

  /**
   * One commit for a batch: the entries chained in order after the stored
   * head, and the writes that go with them. If the commit fails, every
   * action of the batch is refused (nothing of it was stored).
   */
  private async commit(batch: readonly PendingAppend[]): Promise<void> {
    const { repo } = this.deps;
    let entries: AuditEntry[] = [];
    let results: unknown[];
    try {
      // The head is read inside the commit: an append that joined another
      // transaction may have moved it since the batch was queued.
      results = await repo.atomically((tx) =>
        this.chained(async () => {
          entries = await this.sign(
            batch.map((p) => p.input),
            await tx.head(),
          );
          const out: unknown[] = [];
          for (const [i, entry] of entries.entries()) {
            await tx.append(entry);
            out.push(await batch[i]!.write?.(tx));
          }
          return out;
        }),
      );
    } catch (cause) {
      const error = isStorageFull(cause)
        ? storageFull()
        : new DomainError(
            'audit_unavailable',
            'The audit log could not be written, so the action was refused; tell the site administrator.',
            503,
            { cause: cause instanceof Error ? cause.message : String(cause) },
          );
      for (const pending of batch) pending.settle({ error });
      return;
    }
    batch.forEach((pending, i) => pending.settle({ entry: entries[i]!, result: results[i] }));
  }

  /** The entries for `inputs`, chained in order after `last`. */
  private async sign(
    inputs: readonly AuditInput[],
    last: AuditEntry | undefined,
  ): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    for (const input of inputs) {
      const unsigned = {
        seq: (last?.seq ?? 0) + 1,
        at: this.deps.clock.now().toISOString(),
        event: input.event,
        actor: input.actor,
        volumeId: input.volumeId ?? null,
        clientAddress: input.clientAddress ?? null,
        details: input.details ?? {},
        prevMac: last?.mac ?? GENESIS_MAC,
      };
      last = { ...unsigned, mac: await this.mac(unsigned) };
      entries.push(last);
    }
    return entries;
  }

  private chained<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chainTail.then(work, work);
    this.chainTail = run.catch(() => undefined);
    return run;
  }

  private async mac(entry: Omit<AuditEntry, 'mac'> & { mac?: string }): Promise<string> {
    const { mac: _mac, ...signed } = entry;
    const bytes = canonicalJson(signed as unknown as JsonValue);
    return toHex(new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', this.deps.key, bytes)));
  }
}
