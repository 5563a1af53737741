/**
 * Independent decoder (docs/FORMAT.md): restores an image from a manifest,
 * a keys file (`npm run site -- export-key`) — or the key-share files of k
 * of the sites that keep the keys in shares — and a directory of chunk blobs
 * named by chunk ID, or from a bundle file (§16) that carries the manifest
 * and the blobs, with node:crypto only.
 *
 *   npm run decode -- --manifest M --keys K --chunks DIR --out FILE [--force]
 *   npm run decode -- --manifest M --keys S1 --keys S2 [...] --chunks DIR --out FILE
 *   npm run decode -- --bundle B --keys K [--keys K2 ...] --out FILE [--force]
 *
 * Exit status: 0 restored and verified; 1 verification or I/O failure;
 * 2 wrong usage.
 */

import { parseArgs } from 'node:util';
import { DecodeError } from './format';
import { decodeImage } from './decode';

const USAGE = `Usage: npm run decode -- --manifest FILE --keys FILE [--keys FILE ...] --chunks DIR --out FILE [--force]
       npm run decode -- --bundle FILE --keys FILE [--keys FILE ...] --out FILE [--force]

Restores a Custodian image from exported ciphertext and checks it completely:
the manifest signature, every chunk against the signed index, AES-GCM, the
chunk IDs, and the image's size and SHA-256.

  --manifest FILE  the generation's signed manifest (JSON)
  --keys FILE      the volume's keys file from "npm run site -- export-key";
                   for keys kept in shares (k of n sites), repeat --keys with
                   the key-share file that "export-key" writes at each of at
                   least k of the sites: the shares are combined and every
                   key is checked before anything is restored
  --chunks DIR     directory of chunk blobs, each named by its chunk ID in hex
  --bundle FILE    a bundle file (manifest and blobs in one file) instead of
                   --manifest and --chunks; refused if it was cut off, has
                   bytes after its end, or lacks its trailer
  --out FILE       where to write the image (refused if it exists)
  --force          replace --out if it exists
  --help           show this text`;

function main(argv: string[]): number {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        manifest: { type: 'string' },
        bundle: { type: 'string' },
        keys: { type: 'string', multiple: true },
        chunks: { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`decode: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const keys = (values.keys as string[] | undefined) ?? [];
  const bundle = values.bundle !== undefined;
  if (bundle && (values.manifest !== undefined || values.chunks !== undefined)) {
    process.stderr.write(
      `decode: --bundle replaces --manifest and --chunks: give either --bundle or both --manifest and --chunks\n\n${USAGE}\n`,
    );
    return 2;
  }
  const required = bundle ? ['bundle', 'keys', 'out'] : ['manifest', 'keys', 'chunks', 'out'];
  const missing = required.filter((name) =>
    name === 'keys'
      ? keys.length === 0 || keys.includes('')
      : typeof values[name] !== 'string' || values[name] === '',
  );
  if (missing.length > 0) {
    const instead = bundle ? '' : ' (or --bundle instead of --manifest and --chunks)';
    process.stderr.write(
      `decode: missing ${missing.map((m) => `--${m}`).join(', ')}${instead}\n\n${USAGE}\n`,
    );
    return 2;
  }
  try {
    const result = decodeImage({
      ...(bundle
        ? { bundlePath: values.bundle as string }
        : { manifestPath: values.manifest as string, chunksDir: values.chunks as string }),
      keysPath: keys.length === 1 ? keys[0]! : keys,
      outPath: values.out as string,
      force: values.force === true,
    });
    for (const warning of result.warnings) process.stderr.write(`decode: warning: ${warning}\n`);
    process.stdout.write(
      `Restored ${result.fileName} (volume ${result.volumeId}, generation ${result.generation}): ` +
        `${result.size} bytes in ${result.chunks} chunks, SHA-256 ${result.imageSha256}, verified.\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof DecodeError) {
      process.stderr.write(`decode: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(
      `decode: unexpected failure: ${(error as Error).stack ?? String(error)}\n`,
    );
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
