import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * fsync of a directory: makes a name created, renamed or linked in it survive
 * a power loss, not only the file's bytes.
 */
export function syncDirectorySync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * mkdir -p whose every new directory is made durable: each one created is
 * fsynced in its parent, so a file later synced inside it cannot vanish with
 * its folder at a power loss.
 */
export function mkdirDurableSync(dir: string, mode = 0o700): void {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let d = target; !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      continue;
    }
    syncDirectorySync(path.dirname(d));
  }
}

/**
 * Writes a new file that is either wholly there or not at all after a crash:
 * written to a temporary name beside it, fsynced, then linked into place (never
 * over an existing file) and the directory fsynced.
 */
export function writeFileDurableSync(file: string, data: string | Uint8Array, mode = 0o600): void {
  const dir = path.dirname(path.resolve(file));
  mkdirDurableSync(dir);
  const temporary = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(temporary, 'wx', mode);
  try {
    fs.writeFileSync(fd, data);
    fs.fchmodSync(fd, mode); // whatever the umask
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    // link, not rename: rename would replace a file that appeared meanwhile.
    fs.linkSync(temporary, file);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
  syncDirectorySync(dir);
}

/** The asynchronous mkdirDurableSync, for the blob store's request path. */
export async function mkdirDurable(dir: string, mode = 0o700): Promise<void> {
  const target = path.resolve(dir);
  const missing: string[] = [];
  for (let d = target; ; d = path.dirname(d)) {
    try {
      await fsp.stat(d);
      break;
    } catch {
      missing.unshift(d);
      if (path.dirname(d) === d) break;
    }
  }
  for (const d of missing) {
    try {
      await fsp.mkdir(d, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      continue;
    }
    const handle = await fsp.open(path.dirname(d), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
