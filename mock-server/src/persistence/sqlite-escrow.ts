import type { Kysely } from 'kysely';
import type {
  ChunkRepository,
  DeviceRepository,
  EnvelopeRepository,
  EscrowRecordRepository,
  EscrowStatistics,
  EscrowStore,
  EscrowTransaction,
  GenerationRepository,
  PairRepository,
  RearmRepository,
  RegistrationImportRepository,
  ReleaseRepository,
  TransferRepository,
  VolumeRepository,
} from '../domain/escrow/ports';
import { SqliteChunkRepository } from './escrow/chunks';
import { SqliteDeviceRepository } from './escrow/devices';
import { SqliteEnvelopeRepository } from './escrow/envelopes';
import { SqliteGenerationRepository } from './escrow/generations';
import { SqliteRegistrationImportRepository } from './escrow/imports';
import { SqlitePairRepository } from './escrow/pairs';
import { SqliteRearmRepository } from './escrow/rearms';
import { SqliteEscrowRecordRepository } from './escrow/records';
import { SqliteReleaseRepository } from './escrow/releases';
import { SqliteEscrowStatistics } from './escrow/statistics';
import { SqliteTransferRepository } from './escrow/transfers';
import { SqliteVolumeRepository } from './escrow/volumes';
import type { Database } from './schema';
import { SqliteAuditRepository } from './sqlite-audit';
import { transact } from './transactions';

/** The escrow store on the site's SQLite database: its repositories, all over one handle. */
export class SqliteEscrowStore implements EscrowStore {
  readonly devices: DeviceRepository;
  readonly volumes: VolumeRepository;
  readonly imports: RegistrationImportRepository;
  readonly records: EscrowRecordRepository;
  readonly envelopes: EnvelopeRepository;
  readonly generations: GenerationRepository;
  readonly chunks: ChunkRepository;
  readonly pairs: PairRepository;
  readonly transfers: TransferRepository;
  readonly releases: ReleaseRepository;
  readonly rearms: RearmRepository;
  readonly statistics: EscrowStatistics;

  /** `db` may be an open transaction: the store then reads and writes inside it. */
  constructor(private readonly db: Kysely<Database>) {
    this.devices = new SqliteDeviceRepository(db);
    this.volumes = new SqliteVolumeRepository(db);
    this.imports = new SqliteRegistrationImportRepository(db);
    this.records = new SqliteEscrowRecordRepository(db);
    this.envelopes = new SqliteEnvelopeRepository(db);
    this.generations = new SqliteGenerationRepository(db);
    this.chunks = new SqliteChunkRepository(db);
    this.pairs = new SqlitePairRepository(db);
    this.transfers = new SqliteTransferRepository(db);
    this.releases = new SqliteReleaseRepository(db);
    this.rearms = new SqliteRearmRepository(db);
    this.statistics = new SqliteEscrowStatistics(db);
  }

  atomically<T>(work: (tx: EscrowTransaction) => Promise<T>): Promise<T> {
    return transact(this.db, (trx) =>
      work({ store: new SqliteEscrowStore(trx), audit: new SqliteAuditRepository(trx) }),
    );
  }
}
