import { parseArgs } from 'node:util';
import { startSite, StartupError } from './app';
import { ConfigError, insecureHostWarning, loadConfig, publicUrlWarning } from './config';
import { DEMO_ACCOUNTS, DemoRefusedError, demoPassword } from './demo';
import { DataDirectoryError } from './persistence/database';
import { DatabaseServerError } from './persistence/postgres-database';
import { createAdmin, resetPassword } from './cli/accounts';
import { backupSite, exportKey } from './cli/operations';
import { rotateMasterKey } from './cli/rotate-master-key';
import { seedRecords } from './cli/seed';
import { listSites, trustSite, withdrawSite } from './cli/sites';
import { createMasterKeyFile, MasterKeyError } from './platform/master-key';
import { ObjectStoreError } from './platform/s3-blob-store';
import { DomainError } from './domain/errors';
import { SiteKeyError } from './domain/site-keys';

const USAGE = `Usage: npm run site -- <command> [options]

Commands:
  start            start the escrow site and the console (default)
  init-master-key  write a new master key: --out FILE (kept apart from the data)
  create-admin     create an administrator: --user ID --name "Display Name"
                   (password from CUSTODIAN_ADMIN_PASSWORD, else typed with no
                   echo, or the first line of standard input when piped;
                   needs CUSTODIAN_MASTER_KEY_FILE or --master-key-file)
  reset-password   give an account a temporary password, shown once, that the
                   user must replace at the next sign-in: --user ID [--reason TEXT]
                   (also for accounts made before sign-in by site credential)
  rotate-master-key  seal the site's keys under a new master key, site stopped:
                   --new-key-file FILE (written if missing)
  backup           a consistent, integrity-checked copy of the data directory:
                   --out DIR
  seed             add synthetic escrow records for trying search at scale:
                   --records N (npm run seed -- --records 100000)
  export-key       an administrator exports a volume's keys for the
                   independent decoder: --volume V --out FILE
                   [--manifest FILE] [--generation N] [--user ADMIN]
                   (password from CUSTODIAN_ADMIN_PASSWORD, else asked for)
  trust            trust another site once its fingerprint is compared:
                   --url URL --fingerprint HEX [--reason TEXT]
                   (without --fingerprint: only fetch and show its fingerprints)
  sites            list this site and the sites it trusts, with fingerprints
  withdraw         withdraw trust in a site: --site-id ID --reason TEXT

Options of start: --port, --host, --public-url, --data-dir, --database-url, --demo, --demo-on-existing,
  --site-name, --tls-cert, --tls-key, --console-dir, --session-ttl (seconds), --log-level,
  --s3-endpoint, --s3-bucket, --s3-region, --s3-force-path-style
(each also as an environment variable, see the README).`;

async function start(argv: string[]): Promise<void> {
  const config = loadConfig(argv);
  for (const warning of [insecureHostWarning(config), publicUrlWarning(config)]) {
    if (warning) process.stderr.write(`${warning}\n`);
  }
  const site = await startSite(config);
  const lines = [`Custodian escrow site "${site.info.name}" is listening on ${site.url}`];
  if (!site.consoleServed)
    lines.push(`The console is not built (no ${config.consoleDir}); run "npm run build".`);
  lines.push(`Data directory: ${config.dataDir}`);
  if (site.demoAccountsCreated.length > 0 && config.demoOnExisting)
    lines.push(
      `Demo accounts added to this site on request (--demo-on-existing): ${site.demoAccountsCreated.join(', ')}.`,
    );
  if (config.demo) {
    lines.push('Demo mode: these demo accounts exist (password = custodian-<user ID>):');
    for (const a of DEMO_ACCOUNTS)
      lines.push(
        `  ${a.userId.padEnd(10)} ${demoPassword(a.userId).padEnd(20)} ${a.roles.join(', ')}`,
      );
  }
  lines.push(`Open ${site.publicUrl}/ in a browser.`);
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
  let stopping = false;
  const stop = (): void => {
    // A second signal while closing means "now".
    if (stopping) process.exit(1);
    stopping = true;
    void site.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
}

function initMasterKey(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { out: { type: 'string' } }, strict: true });
  if (!values.out) throw new ConfigError('Say where to write the new master key: --out FILE');
  try {
    createMasterKeyFile(values.out);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConfigError(`${values.out} already exists; a master key is never overwritten.`);
    }
    throw error;
  }
  process.stdout.write(
    `A new master key is in ${values.out} (mode 0600). Keep it apart from the data directory and back it up:\n` +
      `without it the site's keys and audit chain cannot be opened. Use it with CUSTODIAN_MASTER_KEY_FILE=${values.out}\n`,
  );
}

async function main(): Promise<void> {
  const [command = 'start', ...rest] = process.argv.slice(2);
  switch (command) {
    case 'start':
      return start(rest);
    case 'create-admin':
      return createAdmin(rest);
    case 'reset-password':
      return resetPassword(rest);
    case 'init-master-key':
      return initMasterKey(rest);
    case 'rotate-master-key':
      return rotateMasterKey(rest);
    case 'backup':
      return backupSite(rest);
    case 'export-key':
      return exportKey(rest);
    case 'seed':
      return seedRecords(rest);
    case 'trust':
      return trustSite(rest);
    case 'sites':
      return listSites(rest);
    case 'withdraw':
      return withdrawSite(rest);
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      if (command.startsWith('--')) return start([command, ...rest]);
      throw new ConfigError(`Unknown command "${command}".\n\n${USAGE}`);
  }
}

main().catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    error instanceof StartupError ||
    error instanceof MasterKeyError ||
    error instanceof SiteKeyError ||
    error instanceof DataDirectoryError ||
    error instanceof DatabaseServerError ||
    error instanceof ObjectStoreError ||
    error instanceof DemoRefusedError
  ) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof DomainError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  if (error instanceof Error && 'code' in error && error.code === 'EEXIST') {
    process.stderr.write(`${error.message}: the file exists already and is never overwritten.\n`);
    process.exit(2);
  }
  if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') {
    process.stderr.write(
      `The port is already in use: ${error.message}. Set CUSTODIAN_PORT to another port.\n`,
    );
    process.exit(2);
  }
  process.stderr.write(
    `The site could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
