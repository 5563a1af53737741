import path from 'node:path';
import { parseArgs } from 'node:util';
import { siteOrigin } from '../../src/core/contract';

/**
 * The site's configuration: environment variables with matching flags
 * (flags win). Every default is listed in the README's configuration table.
 */
export interface SiteConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
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
}

const options = {
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
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
