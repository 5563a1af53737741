import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileDurableSync } from './durable-fs';

export class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
}

const MASTER_KEY_BYTES = 32;

/**
 * Writes a new random master key (base64url, one line) with mode 0600, durably:
 * site keys wrapped under it go into the fsynced database at once, so the key
 * must be on disk before them, or a power loss leaves keys nothing can open.
 */
export function createMasterKeyFile(file: string): void {
  writeFileDurableSync(file, `${randomBytes(MASTER_KEY_BYTES).toString('base64url')}\n`, 0o600);
}

/** The real path of a file or folder that may not exist yet (its nearest existing ancestor resolved). */
function realPath(p: string): string {
  const resolved = path.resolve(p);
  try {
    return fs.realpathSync(resolved);
  } catch {
    const parent = path.dirname(resolved);
    return parent === resolved ? resolved : path.join(realPath(parent), path.basename(resolved));
  }
}

/** Whether `inner` is `outer` or lies inside it (compared by path segments, not by prefix). */
export function isInside(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === '' || (!path.isAbsolute(relative) && relative.split(path.sep)[0] !== '..');
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
  // Real paths, so neither a symlink nor a name like "..master.key" slips through.
  if (isInside(realPath(resolved), realPath(dataDir))) {
    throw new MasterKeyError(
      `The master key file ${resolved} is inside the data directory; keep it apart, so a copy of the data cannot open the keys.`,
    );
  }
  let text: string;
  try {
    const mode = fs.statSync(resolved).mode & 0o777;
    if (mode & 0o077) {
      throw new MasterKeyError(
        `The master key file ${resolved} can be read by others (mode 0${mode.toString(8)}); allow only the site's own user: chmod 600 ${resolved}`,
      );
    }
    text = fs.readFileSync(resolved, 'utf8');
  } catch (error) {
    if (error instanceof MasterKeyError) throw error;
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
