import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
}

const MASTER_KEY_BYTES = 32;

/** Writes a new random master key (base64url, one line) with mode 0600. */
export function createMasterKeyFile(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, `${randomBytes(MASTER_KEY_BYTES).toString('base64url')}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
}

/**
 * Reads the master key (ES-4). It must live apart from the data directory,
 * so that a copy of the data alone opens neither the site's private keys nor
 * the audit chain.
 */
export function readMasterKey(file: string | undefined, dataDir: string): Uint8Array<ArrayBuffer> {
  if (!file) {
    throw new MasterKeyError(
      'No master key: set CUSTODIAN_MASTER_KEY_FILE to a file kept apart from the data directory.\n' +
        'Create one with: npm run site -- init-master-key --out /path/to/master.key',
    );
  }
  const resolved = path.resolve(file);
  const relative = path.relative(path.resolve(dataDir), resolved);
  if (!relative.startsWith('..') && !path.isAbsolute(relative)) {
    throw new MasterKeyError(
      `The master key file ${resolved} is inside the data directory; keep it apart, so a copy of the data cannot open the keys.`,
    );
  }
  let text: string;
  try {
    text = fs.readFileSync(resolved, 'utf8');
  } catch (error) {
    throw new MasterKeyError(
      `The master key file ${resolved} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}).`,
    );
  }
  const key = new Uint8Array(Buffer.from(text.trim(), 'base64url'));
  if (key.length !== MASTER_KEY_BYTES) {
    throw new MasterKeyError(
      `The master key file ${resolved} does not hold a ${MASTER_KEY_BYTES}-byte key.`,
    );
  }
  return key;
}
