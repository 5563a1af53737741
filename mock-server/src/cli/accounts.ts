import { parseArgs } from 'node:util';
import {
  PASSWORD_MIN_LENGTH,
  PASSWORD_RULE_SENTENCE,
  passwordRuleBreach,
  userIdSchema,
} from '../../../src/core/contract';
import { deriveSiteCredential } from '../../../src/core/crypto/site-credential';
import { ConfigError, loadConfig } from '../config';
import { DomainError } from '../domain/errors';
import { openSiteDatabase } from '../persistence/site-database';
import { systemClock } from '../platform/node-random';
import { composeServices } from '../services';
import { readPassword } from './password';

/**
 * Accounts made on the site's host (ID-4). The site keeps only verifiers of
 * site credentials (MS-2): what is typed here is derived into this site's
 * credential right here, with the site's ID from its own database, exactly
 * as a console would derive it, and the password itself is stored nowhere.
 */

const ACCOUNT_OPTIONS = {
  user: { type: 'string' },
  'data-dir': { type: 'string' },
  'master-key-file': { type: 'string' },
} as const;

function siteConfig(values: { 'data-dir'?: string; 'master-key-file'?: string }) {
  return loadConfig([
    ...(values['data-dir'] ? ['--data-dir', values['data-dir']] : []),
    ...(values['master-key-file'] ? ['--master-key-file', values['master-key-file']] : []),
  ]);
}

function requireUserId(userId: string | undefined, what: string): string {
  if (!userId || !userIdSchema.safeParse(userId).success) {
    throw new ConfigError(`Name ${what}: --user ID (letters, digits, . _ -).`);
  }
  return userId;
}

/** `site create-admin --user ID --name NAME`: an administrator with a password typed here. */
export async function createAdmin(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...ACCOUNT_OPTIONS, name: { type: 'string' } },
    strict: true,
  });
  const userId = requireUserId(values.user, 'the new administrator');
  const config = siteConfig(values);
  const password = await readPassword(
    `Password for the new administrator (at least ${PASSWORD_MIN_LENGTH} characters, not containing the user ID): `,
    { confirm: true },
  );
  // The rule every password a person keeps follows (ID-1); the site cannot check it later.
  if (passwordRuleBreach(userId, password) !== null) {
    throw new DomainError('weak_password', PASSWORD_RULE_SENTENCE, 400);
  }
  const database = await openSiteDatabase(config);
  try {
    const services = await composeServices(config, database, systemClock, [], (m) =>
      process.stdout.write(`${m}\n`),
    );
    await services.identity.createUser({
      userId,
      displayName: values.name ?? userId,
      roles: ['admin'],
      credential: await deriveSiteCredential(password, services.info.siteId),
    });
    process.stdout.write(`Administrator "${userId}" created in ${config.dataDir}.\n`);
  } finally {
    await database.close();
  }
}

/**
 * `site reset-password --user ID`: a temporary password, shown once, that the
 * user must replace at the next sign-in; their sessions end. For accounts no
 * administrator can reset in the console: the only administrator, or every
 * account whose verifier was made from the password before site credentials.
 */
export async function resetPassword(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...ACCOUNT_OPTIONS, reason: { type: 'string' } },
    strict: true,
  });
  const userId = requireUserId(values.user, 'the account');
  const config = siteConfig(values);
  const database = await openSiteDatabase(config);
  try {
    const services = await composeServices(config, database, systemClock, [], (m) =>
      process.stdout.write(`${m}\n`),
    );
    const temporary = await services.identity.resetPasswordOnHost(
      userId,
      values.reason ?? 'password reset on the site host',
    );
    process.stdout.write(
      `Temporary password of "${userId}": ${temporary}\n` +
        'It is shown only now. Give it to the user, who must choose a new password at the next sign-in.\n',
    );
  } finally {
    await database.close();
  }
}
