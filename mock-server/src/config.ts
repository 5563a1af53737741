import path from 'node:path';
import { parseArgs } from 'node:util';
import { siteOrigin } from '../../src/core/contract';
import { parseDatabaseUrl } from './persistence/database-url';

/**
 * The site's configuration: environment variables with matching flags
 * (flags win). Every default is listed in the README's configuration table.
 */
export interface SiteConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /**
   * The site's database on a PostgreSQL server (postgres://user:password@host:port/database);
   * unset: SQLite in the data directory, which still holds the chunk blobs either way.
   */
  readonly databaseUrl: string | undefined;
  readonly demo: boolean;
  /** Demo accounts may be added to a site that already has other users (never by default). */
  readonly demoOnExisting: boolean;
  readonly siteName: string;
  /**
   * The origin browsers open the console at (scheme, host, port), when it is
   * not http(s)://127.0.0.1:<port>: behind a reverse proxy, on a host name.
   * Requests from any other origin are refused unless it is a trusted site's (MS-1).
   */
  readonly publicUrl: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** Directory of the built console; the API still runs when it is missing. */
  readonly consoleDir: string;
  readonly sessionTtlMs: number;
  readonly lockout: {
    readonly maxFailures: number;
    readonly windowMs: number;
    readonly lockMs: number;
  };
  readonly logLevel: string;
  /** How long a claim lives without a transfer before it is collected (BK-8). */
  readonly claimTtlMs: number;
  /** How many days before a record's expiry the site sends its one notice. */
  readonly expiryNoticeDays: number;
  /** How long a gap in a pair's sequence may last before the pair is PSUE (RC-3). */
  readonly gapTimeoutMs: number;
  /** The master key file (ES-4); demo mode creates ./secrets/master.key. */
  readonly masterKeyFile: string | undefined;
  /** Bearer token that lets a non-loopback client read /metrics; loopback needs none. */
  readonly metricsToken: string | undefined;
  /** Below this many free bytes in the data directory, /api/health says "degraded". */
  readonly diskLowBytes: number;
  /** Alert mail (AL-3); off when no SMTP URL is set. */
  readonly mail:
    | {
        readonly smtpUrl: string;
        readonly from: string;
        readonly to: readonly string[];
        readonly burstWindowMs: number;
      }
    | undefined;
  /** Chunk blobs in an S3-compatible bucket rather than in the data directory; off unless a bucket is set. */
  readonly s3: S3Config | undefined;
}

/** An S3-compatible object store for chunk blobs. */
export interface S3Config {
  /** The store's URL; unset: AWS S3 in `region`. */
  readonly endpoint: string | undefined;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The bucket in the URL's path rather than its host name (most stores other than AWS S3). */
  readonly forcePathStyle: boolean;
}

const options = {
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  demo: { type: 'boolean' },
  'demo-on-existing': { type: 'boolean' },
  'site-name': { type: 'string' },
  'public-url': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'console-dir': { type: 'string' },
  'session-ttl': { type: 'string' },
  'log-level': { type: 'string' },
  'master-key-file': { type: 'string' },
  'smtp-url': { type: 'string' },
  'claim-ttl': { type: 'string' },
  'expiry-notice-days': { type: 'string' },
  'gap-timeout': { type: 'string' },
  'mail-from': { type: 'string' },
  'alert-mail-to': { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-bucket': { type: 'string' },
  's3-region': { type: 'string' },
  's3-force-path-style': { type: 'string' },
} as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function integer(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name} must be an integer ≥ ${min}, not "${raw}".`);
  }
  return value;
}

function flag(raw: string | undefined): boolean {
  return raw !== undefined && ['1', 'true', 'yes', 'on'].includes(raw.toLowerCase());
}

/** A yes or a no, spelt out: anything else is refused rather than read as "no". */
function strictFlag(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  const value = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new ConfigError(`${name} must be true or false, not "${raw}".`);
}

/** S3 bucket names: 3 to 63 lower-case letters, digits, dots and hyphens. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * The object store of chunk blobs: set by its bucket, and then it needs its
 * access key. Its other settings without a bucket are refused, as they would
 * leave the blobs in the data directory while the operator thinks otherwise.
 */
function s3Config(
  values: {
    's3-endpoint'?: string;
    's3-bucket'?: string;
    's3-region'?: string;
    's3-force-path-style'?: string;
  },
  env: NodeJS.ProcessEnv,
): S3Config | undefined {
  const settings = {
    CUSTODIAN_S3_ENDPOINT: values['s3-endpoint'] ?? env.CUSTODIAN_S3_ENDPOINT,
    CUSTODIAN_S3_REGION: values['s3-region'] ?? env.CUSTODIAN_S3_REGION,
    CUSTODIAN_S3_ACCESS_KEY_ID: env.CUSTODIAN_S3_ACCESS_KEY_ID,
    CUSTODIAN_S3_SECRET_ACCESS_KEY: env.CUSTODIAN_S3_SECRET_ACCESS_KEY,
    CUSTODIAN_S3_FORCE_PATH_STYLE:
      values['s3-force-path-style'] ?? env.CUSTODIAN_S3_FORCE_PATH_STYLE,
  };
  const bucket = values['s3-bucket'] ?? env.CUSTODIAN_S3_BUCKET;
  if (!bucket) {
    const stray = Object.entries(settings)
      .filter(([, value]) => value)
      .map(([name]) => name);
    if (stray.length === 0) return undefined;
    throw new ConfigError(
      `${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set but CUSTODIAN_S3_BUCKET is not: set the bucket to keep chunk blobs in the object store, or unset ${stray.length === 1 ? 'it' : 'them'} to keep them in the data directory.`,
    );
  }
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw new ConfigError(
      `CUSTODIAN_S3_BUCKET must be a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit (not "${bucket}").`,
    );
  }
  const missing = (
    ['CUSTODIAN_S3_ACCESS_KEY_ID', 'CUSTODIAN_S3_SECRET_ACCESS_KEY'] as const
  ).filter((name) => !settings[name]);
  if (missing.length > 0) {
    throw new ConfigError(
      `CUSTODIAN_S3_BUCKET is set: also set ${missing.join(' and ')} (the store's access key for the bucket).`,
    );
  }
  const endpoint = settings.CUSTODIAN_S3_ENDPOINT
    ? s3Endpoint(settings.CUSTODIAN_S3_ENDPOINT)
    : undefined;
  const region = settings.CUSTODIAN_S3_REGION || 'us-east-1';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(region)) {
    throw new ConfigError(
      `CUSTODIAN_S3_REGION must be a region name such as us-east-1 (letters, digits, dots, hyphens and underscores), not "${region}".`,
    );
  }
  return {
    endpoint,
    bucket,
    region,
    accessKeyId: settings.CUSTODIAN_S3_ACCESS_KEY_ID!,
    secretAccessKey: settings.CUSTODIAN_S3_SECRET_ACCESS_KEY!,
    // Stores other than AWS S3 mostly serve buckets by path only.
    forcePathStyle: strictFlag(
      'CUSTODIAN_S3_FORCE_PATH_STYLE',
      settings.CUSTODIAN_S3_FORCE_PATH_STYLE,
      endpoint !== undefined,
    ),
  };
}

/** The store's http(s) URL, without a trailing slash; never echoed when it holds a password. */
function s3Endpoint(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url && (url.username || url.password)) {
    throw new ConfigError(
      'CUSTODIAN_S3_ENDPOINT must not hold a user name or password: put the access key in CUSTODIAN_S3_ACCESS_KEY_ID and CUSTODIAN_S3_SECRET_ACCESS_KEY.',
    );
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.search || url.hash) {
    throw new ConfigError(
      `CUSTODIAN_S3_ENDPOINT must be the store's URL: http:// or https://, the host and, if needed, the port (not "${text}").`,
    );
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/** A postgres:// URL, or undefined for SQLite; never echoed, as it may hold a password. */
function databaseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const parts = parseDatabaseUrl(raw);
  if ('problem' in parts) {
    throw new ConfigError(
      `CUSTODIAN_DATABASE_URL must be a PostgreSQL URL such as postgres://user:password@host:5432/database, but ${parts.problem}.`,
    );
  }
  return raw;
}

export function loadConfig(
  argv: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): SiteConfig {
  const { values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  const tlsCert = values['tls-cert'] ?? env.CUSTODIAN_TLS_CERT;
  const tlsKey = values['tls-key'] ?? env.CUSTODIAN_TLS_KEY;
  if (Boolean(tlsCert) !== Boolean(tlsKey)) {
    throw new ConfigError('CUSTODIAN_TLS_CERT and CUSTODIAN_TLS_KEY must be set together.');
  }
  const demo = values.demo ?? flag(env.CUSTODIAN_DEMO);
  const masterKeyFile =
    values['master-key-file'] ??
    env.CUSTODIAN_MASTER_KEY_FILE ??
    (demo ? './secrets/master.key' : undefined);
  const smtpUrl = values['smtp-url'] ?? env.CUSTODIAN_SMTP_URL;
  const alertMailTo = (values['alert-mail-to'] ?? env.CUSTODIAN_ALERT_MAIL_TO ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (smtpUrl && alertMailTo.length === 0) {
    throw new ConfigError(
      'CUSTODIAN_SMTP_URL is set: also set CUSTODIAN_ALERT_MAIL_TO (comma-separated addresses).',
    );
  }
  const publicUrlText = values['public-url'] ?? env.CUSTODIAN_PUBLIC_URL;
  const publicUrl = publicUrlText ? siteOrigin(publicUrlText) : undefined;
  if (publicUrl === null) {
    throw new ConfigError(
      `CUSTODIAN_PUBLIC_URL must be an origin: http:// or https://, the host and, if needed, the port, and nothing after it (not "${publicUrlText}").`,
    );
  }
  return {
    port: integer('CUSTODIAN_PORT', values.port ?? env.CUSTODIAN_PORT, 8787, 0),
    host: values.host ?? env.CUSTODIAN_HOST ?? '127.0.0.1',
    dataDir: path.resolve(cwd, values['data-dir'] ?? env.CUSTODIAN_DATA_DIR ?? './data'),
    databaseUrl: databaseUrl(values['database-url'] ?? env.CUSTODIAN_DATABASE_URL),
    demo,
    demoOnExisting: values['demo-on-existing'] ?? flag(env.CUSTODIAN_DEMO_ON_EXISTING),
    metricsToken: env.CUSTODIAN_METRICS_TOKEN || undefined,
    diskLowBytes:
      integer('CUSTODIAN_DISK_LOW_MB', env.CUSTODIAN_DISK_LOW_MB, 1024, 0) * 1024 * 1024,
    siteName: values['site-name'] ?? env.CUSTODIAN_SITE_NAME ?? 'Custodian escrow site',
    publicUrl,
    tlsCert: tlsCert || undefined,
    tlsKey: tlsKey || undefined,
    consoleDir: path.resolve(cwd, values['console-dir'] ?? env.CUSTODIAN_CONSOLE_DIR ?? './dist'),
    sessionTtlMs:
      integer(
        'CUSTODIAN_SESSION_TTL',
        values['session-ttl'] ?? env.CUSTODIAN_SESSION_TTL,
        8 * 3600,
        1,
      ) * 1000,
    lockout: { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
    logLevel: values['log-level'] ?? env.CUSTODIAN_LOG_LEVEL ?? 'info',
    gapTimeoutMs:
      integer('CUSTODIAN_GAP_TIMEOUT', values['gap-timeout'] ?? env.CUSTODIAN_GAP_TIMEOUT, 120, 1) *
      1000,
    claimTtlMs:
      integer('CUSTODIAN_CLAIM_TTL', values['claim-ttl'] ?? env.CUSTODIAN_CLAIM_TTL, 3600, 1) *
      1000,
    expiryNoticeDays: integer(
      'CUSTODIAN_EXPIRY_NOTICE_DAYS',
      values['expiry-notice-days'] ?? env.CUSTODIAN_EXPIRY_NOTICE_DAYS,
      14,
      1,
    ),
    masterKeyFile: masterKeyFile ? path.resolve(cwd, masterKeyFile) : undefined,
    mail: smtpUrl
      ? {
          smtpUrl,
          from: values['mail-from'] ?? env.CUSTODIAN_MAIL_FROM ?? 'custodian@localhost',
          to: alertMailTo,
          burstWindowMs: integer('CUSTODIAN_MAIL_BURST', env.CUSTODIAN_MAIL_BURST, 60, 1) * 1000,
        }
      : undefined,
    s3: s3Config(values, env),
  };
}

/** Whether a listening host is reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * The origin of the site's own console: CUSTODIAN_PUBLIC_URL, else the
 * site's loopback address at the port it listens on (`port`, once known).
 */
export function publicOrigin(config: SiteConfig, port: number = config.port): string {
  return config.publicUrl ?? `${config.tlsCert ? 'https' : 'http'}://127.0.0.1:${port}`;
}

/**
 * A site reachable from other machines answers its console only at its
 * public URL; without one that is 127.0.0.1, and browsers that open it by
 * another name are refused as another origin.
 */
export function publicUrlWarning(config: SiteConfig): string | undefined {
  if (config.publicUrl || isLoopbackHost(config.host)) return undefined;
  return (
    `Warning: CUSTODIAN_PUBLIC_URL is not set, so the site answers its console only at ${publicOrigin(config)} (and localhost). ` +
    'Browsers that open it at another address are refused as pages of another origin. ' +
    'Set CUSTODIAN_PUBLIC_URL to the address browsers use, e.g. https://custodian.example.'
  );
}

/**
 * The console encrypts with WebCrypto, which browsers offer only in a secure
 * context: HTTPS, or http://localhost. Served over plain HTTP to other
 * machines, the console loads but cannot back up or restore.
 */
export function insecureHostWarning(config: SiteConfig): string | undefined {
  if (config.tlsCert || isLoopbackHost(config.host)) return undefined;
  return (
    `Warning: serving ${config.host} over plain HTTP. Browsers on other machines give the console no WebCrypto ` +
    '(it needs HTTPS or localhost), so backup and restore will not work there. ' +
    'Set CUSTODIAN_TLS_CERT and CUSTODIAN_TLS_KEY, or put the site behind an HTTPS reverse proxy and bind it to 127.0.0.1.'
  );
}
