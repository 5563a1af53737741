import type {
  AuditEntry,
  AuditHead,
  AuditQuery,
  AuditVerification,
} from '../../../src/core/contract';
import { canonicalJson, type JsonValue } from '../../../src/core/crypto/canonical-json';
import { toHex } from '../../../src/core/crypto/bytes';
import { DomainError } from './errors';
import type { AuditRepository, Clock } from './ports';

export const GENESIS_MAC = '0'.repeat(64);

export interface AuditInput {
  readonly event: string;
  readonly actor: string | null;
  readonly volumeId?: string | null;
  readonly clientAddress?: string | null;
  readonly details?: Record<string, JsonValue>;
}

/**
 * The append-only audit log (AL-4). Each entry's MAC is HMAC-SHA-256, under a
 * key derived from the master key, over the RFC 8785 canonical JSON of the
 * entry including the previous entry's MAC: someone who can write the
 * database but lacks the master key cannot rewrite, drop or reorder entries
 * without "Verify chain" naming the first broken one.
 */
export class AuditLog {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      readonly repo: AuditRepository;
      readonly key: CryptoKey;
      readonly clock: Clock;
    },
  ) {}

  /** Appends an entry; if it cannot be written, the caller's action is refused. */
  append(input: AuditInput): Promise<AuditEntry> {
    const run = this.tail.then(() => this.appendNow(input));
    this.tail = run.catch(() => undefined);
    return run.catch((cause: unknown) => {
      throw new DomainError(
        'audit_unavailable',
        'The audit log could not be written, so the action was refused; tell the site administrator.',
        503,
        { cause: cause instanceof Error ? cause.message : String(cause) },
      );
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

  private async appendNow(input: AuditInput): Promise<AuditEntry> {
    const last = await this.deps.repo.head();
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
    const entry: AuditEntry = { ...unsigned, mac: await this.mac(unsigned) };
    await this.deps.repo.append(entry);
    return entry;
  }

  private async mac(entry: Omit<AuditEntry, 'mac'> & { mac?: string }): Promise<string> {
    const { mac: _mac, ...signed } = entry;
    const bytes = canonicalJson(signed as unknown as JsonValue);
    return toHex(new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', this.deps.key, bytes)));
  }
}
