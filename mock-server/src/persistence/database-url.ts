// A PostgreSQL URL holds a password: what a message may show of it is decided here.

/** The parts of a database URL that messages may show: no user password, ever. */
export interface DatabaseUrlParts {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/**
 * The host, port, database and user of a postgres:// or postgresql:// URL,
 * or the reason it is not one. The reason never quotes the URL (it may hold
 * a password).
 */
export function parseDatabaseUrl(text: string): DatabaseUrlParts | { readonly problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'it is not a URL' };
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    return { problem: `its scheme is "${url.protocol}", not "postgres:" or "postgresql:"` };
  const decoded = (text: string): string | undefined => {
    try {
      return decodeURIComponent(text);
    } catch {
      return undefined;
    }
  };
  // A Unix socket directory may stand in ?host= instead of the authority.
  const host = decoded(url.hostname.replace(/^\[|\]$/g, '')) || url.searchParams.get('host') || '';
  if (!host) return { problem: 'it names no host' };
  const user = decoded(url.username);
  const database = decoded(url.pathname.replace(/^\//, ''));
  if (user === undefined || database === undefined)
    return { problem: 'its user or database name is not percent-encoded correctly' };
  return {
    host,
    port: url.port ? Number(url.port) : 5432,
    database: database || user || '(the default)',
    user,
  };
}

/** "host:port, database name": where a message says the database is. */
export function describeDatabaseUrl(text: string): string {
  const parts = parseDatabaseUrl(text);
  if ('problem' in parts) return 'an unusable CUSTODIAN_DATABASE_URL';
  const host = parts.host.includes(':') ? `[${parts.host}]` : parts.host;
  return `${host}:${parts.port}, database "${parts.database}"`;
}

/** `message` with the URL's password, if any, cut out. */
export function withoutPassword(message: string, urlText: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(urlText).password);
  } catch {
    // Not a URL: parseDatabaseUrl refused it before anything could say it.
  }
  return password ? message.split(password).join('***') : message;
}
